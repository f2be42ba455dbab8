import Foundation
import Testing
import TestSupport

@testable import SlurmDistil

/// The release binary where no Swift toolchain has ever been: a Debian 13 root filesystem with only
/// libcurl4t64 and libslurm42t64 (Slurm 24.11) installed, while the binary was built on Debian 12
/// against Slurm 22.05's headers.
@Suite(.enabled(if: ReleaseBinary.path != nil && getuid() == 0))
struct ReleaseInDebian13Tests {
    let rootfs: String

    init() throws {
        rootfs = try ReleaseBinary.rootfs("runtime")
    }

    @Test func theRootFilesystemHasNoToolchain() throws {
        // Otherwise the other tests here would prove nothing.
        let found = try runProcess("/usr/bin/find", [rootfs, "-name", "libswiftCore.so", "-o", "-name", "libFoundation.so", "-o", "-name", "swift*"])
        #expect(found.stdout.isEmpty, "\(found.stdout)")
        #expect(FileManager.default.fileExists(atPath: "\(rootfs)/usr/lib/x86_64-linux-gnu/libslurm.so.42"))
        #expect(!FileManager.default.fileExists(atPath: "\(rootfs)/usr/lib/x86_64-linux-gnu/libslurm.so.38"))
    }

    @Test func versionGenSbatchAndHostsWork() throws {
        let version = try ReleaseBinary.run(in: rootfs, ["--version"])
        #expect(version.status == 0, "\(version.stderr)")
        #expect(version.stdout == SlurmDistilVersion.current + "\n")

        let script = try ReleaseBinary.run(in: rootfs, ["gen-sbatch", "--no-profile", "-N", "2", "--gpus-per-node", "1", "--log-dir", "/tmp", "--", "python", "-u", "x.py"])
        #expect(script.status == 0, "\(script.stderr)")
        #expect(script.stdout.contains("#SBATCH --nodes=2"))
        #expect(script.stdout.contains("exec /mnt/slurm-distil bootstrap"))

        // The expansion is libslurm.so.42's; --interface needs no address lookup for other nodes.
        let hosts = try ReleaseBinary.run(in: rootfs, ["hosts", "--nodelist", "gpu[08-10],login1", "--interface", "ib0"])
        #expect(hosts.status == 0, "\(hosts.stderr)")
        let names = hosts.stdout.split(separator: "\n").dropFirst(2).map { String($0.split(separator: " ")[0]) }
        #expect(names == ["gpu08", "gpu09", "gpu10", "login1"], "\(hosts.stdout)")
        #expect(hosts.stdout.contains("nodes gpu[08-10],login1 (4)"))
    }

    @Test func withoutLibslurmOnlyHostsAndBootstrapStop() throws {
        let hosts = try ReleaseBinary.run(in: rootfs, ["hosts", "--nodelist", "n[1-2]", "--interface", "ib0"], hidingLibslurm: true)
        #expect(hosts.status == 3, "\(hosts.stdout) \(hosts.stderr)")
        #expect(hosts.stderr.contains("libslurm (Slurm's client library) was not found; looked for libslurm.so, libslurm.so.43 ... libslurm.so.38"))
        #expect(hosts.stderr.contains("hint: hosts and bootstrap need it"))
        #expect(!hosts.stderr.contains("Fatal error"))

        // Inside an allocation, bootstrap needs the node list expanded: the same failure, before anything starts.
        let bootstrap = try ReleaseBinary.run(
            in: rootfs, ["bootstrap", "--dry-run", "--", "true"],
            environment: ["SLURM_JOB_ID": "7", "SLURM_JOB_NODELIST": "n[1-2]", "SLURM_JOB_NUM_NODES": "2"], hidingLibslurm: true)
        #expect(bootstrap.status == 3, "\(bootstrap.stderr)")
        #expect(bootstrap.stderr.contains("libslurm (Slurm's client library) was not found"))

        let version = try ReleaseBinary.run(in: rootfs, ["--version"], hidingLibslurm: true)
        #expect(version.status == 0)
        let script = try ReleaseBinary.run(in: rootfs, ["gen-sbatch", "--no-profile", "-N", "2", "--log-dir", "/tmp", "--", "true"], hidingLibslurm: true)
        #expect(script.status == 0, "\(script.stderr)")
        // A Jobs command gets as far as the network: exit 4 for a dashboard nobody runs, not 3.
        let list = try ReleaseBinary.run(in: rootfs, ["list", "--address", "http://127.0.0.1:9"], hidingLibslurm: true)
        #expect(list.status == 4, "\(list.stderr)")
    }
}
