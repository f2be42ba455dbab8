import Foundation
import SlurmDistil
import Testing
import TestSupport

/// Reaching a running job from the login node (the controller's namespace plays it) by its Slurm id:
/// status, logs, why it waits, and an SSH tunnel to its dashboard through a real sshd.
@Suite(.enabled(if: VirtualCluster.isUp)) struct ReachOnClusterTests: BootstrapJobs {
    func cli(_ arguments: [String], in directory: URL) throws -> ProcessResult {
        try VirtualCluster.exec("ctl", [PackagePaths.binary] + arguments, in: directory)
    }

    @Test func aHeldJobSaysWhyItWaits() throws {
        let directory = try generate([Self.probe, "nodes"])
        let id = try VirtualCluster.submit("job.sh", arguments: [], in: directory)
        defer { _ = try? VirtualCluster.exec("ctl", ["scancel", String(id)]) }
        // uhold: the owner's own hold (root's plain `hold` is an administrator's).
        _ = try VirtualCluster.exec("ctl", ["scontrol", "uhold", String(id)])
        let status = try cli(["status", "--job", String(id)], in: directory)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("Slurm job \(id) (bt): PENDING: held by its owner (JobHeldUser); release it: scontrol release ID"), "\(status.stdout)")
        #expect(status.stdout.contains("bootstrap has not started yet"))
        let logs = try cli(["logs", "--job", String(id)], in: directory)
        #expect(logs.status == 2 && logs.stderr.contains("has not started Ray yet"), "\(logs.stderr)")
        let json = try cli(["status", "--job", String(id), "--json"], in: directory)
        #expect(json.stdout.contains("\"reason\" : \"JobHeldUser\""), "\(json.stdout)")
    }

    @Test func aRunningJobIsReachedByItsIdAndThroughAnSSHTunnel() throws {
        let (directory, id) = try startRunning([Self.probe, "sleep"], nodes: 2)
        defer { _ = try? VirtualCluster.exec("ctl", ["scancel", String(id)]) }
        let status = try cli(["status", "--job", String(id)], in: directory)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("Slurm job \(id) (bt): RUNNING on n[1-2]"), "\(status.stdout)")
        #expect(status.stdout.contains("bring-up: GCS ") && status.stdout.contains("submitted"), "\(status.stdout)")
        #expect(status.stdout.contains(": RUNNING") && status.stdout.contains("pipeline sd_"), "\(status.stdout)")
        let token = jobFile(directory, id, "token")
        #expect(!token.isEmpty && !status.stdout.contains(token) && !status.stderr.contains(token), "the token is never printed")
        let logs = try cli(["logs", "--job", String(id)], in: directory)
        #expect(logs.status == 0 && logs.stdout.contains("started"), "\(logs.stderr)")

        // The login node's sshd; the tunnel command as `tunnel` prints it, with this test's key and port.
        let keys = try temporaryDirectory()
        let tunnel = try cli(["tunnel", String(id), "--via", "root@10.213.77.10", "--local-port", "18265", "--json"], in: directory)
        #expect(tunnel.status == 0, "\(tunnel.stderr)")
        struct Printed: Decodable { var ssh: [String]; var localURL: String }
        let printed = try JSONDecoder().decode(Printed.self, from: Data(tunnel.stdout.utf8))
        #expect(printed.ssh.contains("127.0.0.1:18265:10.213.77.11:\(try record(directory, id).portBase + 1)"))
        let ssh = [printed.ssh[0], "-i", keys.appending(path: "client").path, "-p", "2222", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes"] + printed.ssh.dropFirst()
        let tokenFile = directory.appending(path: "slurm-distil-logs/\(id)/token").path
        let script = """
            set -u
            k=\(keys.path)
            ssh-keygen -q -t ed25519 -N '' -f $k/host && ssh-keygen -q -t ed25519 -N '' -f $k/client && cp $k/client.pub $k/authorized_keys
            mkdir -p /run/sshd
            /usr/sbin/sshd -f /dev/null -o ListenAddress=10.213.77.10 -o Port=2222 -o HostKey=$k/host -o AuthorizedKeysFile=$k/authorized_keys \\
                -o PidFile=$k/sshd.pid -o UsePAM=no -o StrictModes=no -o PermitRootLogin=prohibit-password -o AllowTcpForwarding=yes -E $k/sshd.log
            \(ssh.map { "'\($0)'" }.joined(separator: " ")) & tunnel=$!
            for i in $(seq 50); do \(PackagePaths.binary) list --address \(printed.localURL) --token-file \(tokenFile) >/dev/null 2>&1 && break; sleep 0.2; done
            \(PackagePaths.binary) list --address \(printed.localURL) --token-file \(tokenFile); echo "with token: $?"
            HOME=$k \(PackagePaths.binary) list --address \(printed.localURL); echo "without token: $?"
            kill $tunnel; kill $(cat $k/sshd.pid)
            """
        let through = try VirtualCluster.exec("ctl", ["sh", "-c", script], in: keys)
        #expect(through.stdout.contains("with token: 0") && through.stdout.contains("sd_"), "\(through.stdout) \(through.stderr)")
        #expect(through.stdout.contains("without token: 5") && through.stderr.contains("requires a token and none was found"), "\(through.stdout) \(through.stderr)")
        ReliabilityLog.record(.init(
            category: "security", scenario: "the dashboard through `slurm-distil tunnel`'s ssh -L from the login node, with and without the job's token",
            behaviour: "with the token the Jobs API answers; without it Ray answers 401 (exit 5); the tunnel listens on the client's loopback only",
            exitCode: "0 / 5", detectSeconds: nil, cleanupSeconds: nil))

        _ = try VirtualCluster.exec("ctl", ["scancel", String(id)])
        let job = try VirtualCluster.waitForEnd(id)
        let ended = try cli(["status", "--job", String(id)], in: directory)
        #expect(ended.stdout.contains("bootstrap: TERMINATED, exit 143"), "\(ended.stdout) \(job.state)")
        try expectNothingLeft(id)
    }
}
