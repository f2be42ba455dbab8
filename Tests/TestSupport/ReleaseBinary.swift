import Foundation

/// The release binary of `scripts/release` (static Swift runtime, libslurm opened at run time), which
/// scripts/test names in SLURM_DISTIL_RELEASE_BIN; and the Debian 13 root filesystems it is tried in.
public enum ReleaseBinary {
    /// nil when no release was built for this run.
    public static var path: String? {
        ProcessInfo.processInfo.environment["SLURM_DISTIL_RELEASE_BIN"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The Slurm version scripts/test brought the virtual cluster up with (its `--slurm`).
    public static var expectedSlurm: String {
        ProcessInfo.processInfo.environment["SLURM_DISTIL_VCLUSTER_SLURM"] ?? "22.05"
    }

    /// A cached Debian 13 root filesystem from `scripts/vcluster rootfs NAME` (built on first use).
    public static func rootfs(_ name: String) throws -> String {
        let built = try VirtualCluster.run(["rootfs", name])
        guard built.status == 0 else { throw TestFailure("scripts/vcluster rootfs \(name): \(built.stderr)") }
        return built.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs the release binary chrooted into `rootfs`, in a private mount namespace that holds the
    /// binary's folder at /mnt, and /proc and /dev; with `hidingLibslurm`, every libslurm in it reads as
    /// an empty file, as on a machine without Slurm's library.
    public static func run(
        in rootfs: String, _ arguments: [String], environment: [String: String] = [:], hidingLibslurm: Bool = false
    ) throws -> ProcessResult {
        guard let path else { throw TestFailure("SLURM_DISTIL_RELEASE_BIN is not set") }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let name = URL(fileURLWithPath: path).lastPathComponent
        let script = """
            set -e
            root=$1 folder=$2 hide=$3
            shift 3
            mount --bind "$folder" "$root/mnt"
            mount --rbind /proc "$root/proc"
            mount --rbind /dev "$root/dev"
            if [ "$hide" = 1 ]; then
                for library in "$root"/usr/lib/x86_64-linux-gnu/libslurm*.so*; do
                    [ -f "$library" ] && mount --bind /dev/null "$library"
                done
            fi
            exec chroot "$root" "$@"
            """
        return try runProcess(
            "/usr/bin/unshare",
            ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh", rootfs, folder, hidingLibslurm ? "1" : "0",
             "/usr/bin/env", "-i", "PATH=/usr/bin:/bin"] + environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                + ["/mnt/\(name)"] + arguments)
    }
}
