import Foundation
import Testing
import TestSupport

/// gen-sbatch -> sbatch -> bootstrap -> Ray Jobs API on the virtual cluster, with real Slurm and Ray.
@Suite(.serialized, .enabled(if: VirtualCluster.isUp)) struct BootstrapOnClusterTests {
    static let probe = PackagePaths.fixtures.appending(path: "pipelines/probe.py").path

    struct Record: Decodable {
        var status: String
        var exitCode: Int32
        var submissionID: String?
        var seconds: [String: Double]
    }

    /// Writes job.sh for a Ray pipeline over `nodes` nodes with one GPU each; returns the folder.
    func generate(_ pipeline: [String], nodes: Int = 3, time: String = "10", extra: [String] = []) throws -> URL {
        let directory = try temporaryDirectory()
        let result = try runProcess(
            PackagePaths.binary,
            ["gen-sbatch", "--no-profile", "-N", String(nodes), "--gpus-per-node", "1", "--time", time, "-J", "bt",
             "--venv", PackagePaths.root.appending(path: ".venv-ray").path,
             "--bootstrap-arg=--object-store-memory", "--bootstrap-arg=80M", "-o", "job.sh"] + extra + ["--", "python", "-u"] + pipeline,
            directory: directory)
        guard result.status == 0 else { throw TestFailure("gen-sbatch: \(result.stderr)") }
        return directory
    }

    func output(_ directory: URL, _ job: Int) -> String {
        (try? String(contentsOf: directory.appending(path: "slurm-distil-logs/bt-\(job).out"), encoding: .utf8)) ?? ""
    }

    func record(_ directory: URL, _ job: Int) throws -> Record {
        try JSONDecoder().decode(Record.self, from: Data(contentsOf: directory.appending(path: "slurm-distil-logs/\(job)/status.json")))
    }

    func expectNothingLeft(_ job: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        // Slurm reports the job ended a moment before its last step's processes are gone.
        var left = try VirtualCluster.rayProcessesOnNodes()
        for _ in 0..<20 where !left.isEmpty {
            Thread.sleep(forTimeInterval: 0.5)
            left = try VirtualCluster.rayProcessesOnNodes()
        }
        #expect(left == [], sourceLocation: sourceLocation)
        let temps = try FileManager.default.contentsOfDirectory(atPath: "/tmp").filter { $0.hasPrefix("sd-\(job)-") }
        #expect(temps == [], "per-node temp dirs are removed", sourceLocation: sourceLocation)
    }

    @Test func threeNodePipelineSeesEveryNodeAndGpu() throws {
        let shared = try temporaryDirectory()
        let directory = try generate([Self.probe, "nodes"], extra: ["--bootstrap-arg=--require-shared", "--bootstrap-arg=\(shared.path)"])
        let id = try VirtualCluster.submit("job.sh", in: directory)
        let job = try VirtualCluster.waitForEnd(id)
        let text = output(directory, id)
        #expect(job.state == "COMPLETED", "\(text)")
        #expect(text.contains("nodes=3 cpus=3 gpus=3"))
        #expect(text.contains("hosts=n1,n2,n3"))
        #expect(text.contains("\(shared.path) is shared by all 3 nodes"))
        let status = try record(directory, id)
        #expect(status.status == "SUCCEEDED")
        #expect(status.exitCode == 0)
        #expect(status.seconds["rayReady"] != nil && status.seconds["submitted"] != nil)
        let pipelineLog = try String(contentsOf: directory.appending(path: "slurm-distil-logs/\(id)/pipeline.log"), encoding: .utf8)
        #expect(pipelineLog.contains("hosts=n1,n2,n3"))
        let token = try FileManager.default.attributesOfItem(atPath: directory.appending(path: "slurm-distil-logs/\(id)/token").path)
        #expect((token[.posixPermissions] as? Int) == 0o600)
        try expectNothingLeft(id)
    }

    @Test func pipelineExitCodeBecomesTheSlurmJobsStatus() throws {
        let directory = try generate([Self.probe, "nodes", "3"], nodes: 2)
        let id = try VirtualCluster.submit("job.sh", in: directory)
        let job = try VirtualCluster.waitForEnd(id)
        #expect(job.state == "FAILED")
        #expect(job.exitCode == "3:0", "\(output(directory, id))")
        #expect(try record(directory, id).status == "FAILED")
        #expect(output(directory, id).contains("hosts=n1,n2"))
        try expectNothingLeft(id)
    }

    @Test func unauthenticatedRequestsToTheDashboardAreRefused() throws {
        let directory = try generate([Self.probe, "auth"], nodes: 1)
        let id = try VirtualCluster.submit("job.sh", in: directory)
        let job = try VirtualCluster.waitForEnd(id)
        #expect(job.state == "COMPLETED")
        #expect(output(directory, id).contains("unauthenticated status 401"), "\(output(directory, id))")
        // The token never appears in the job's output.
        let token = try String(contentsOf: directory.appending(path: "slurm-distil-logs/\(id)/token"), encoding: .utf8)
        #expect(!output(directory, id).contains(token))
        try expectNothingLeft(id)
    }

    @Test func twoJobsShareTheSameNodes() throws {
        let first = try generate([Self.probe, "nodes"])
        let second = try generate([Self.probe, "nodes"])
        let ids = try [VirtualCluster.submit("job.sh", in: first), VirtualCluster.submit("job.sh", in: second)]
        let jobs = try ids.map { try VirtualCluster.waitForEnd($0) }
        #expect(jobs.map(\.state) == ["COMPLETED", "COMPLETED"], "\(output(first, ids[0]))\n\(output(second, ids[1]))")
        #expect(jobs[0].nodeList == jobs[1].nodeList)
        for id in ids { try expectNothingLeft(id) }
    }

    func waitForOutput(_ directory: URL, _ id: Int, _ text: String) throws {
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, !output(directory, id).contains(text) {
            Thread.sleep(forTimeInterval: 0.5)
        }
        guard output(directory, id).contains(text) else { throw TestFailure("no '\(text)' in the output: \(output(directory, id))") }
    }

    @Test func scancelStopsThePipelineKeepsItsOutputAndLeavesNothing() throws {
        let directory = try generate([Self.probe, "sleep"], nodes: 2)
        let id = try VirtualCluster.submit("job.sh", in: directory)
        try waitForOutput(directory, id, "started")
        _ = try VirtualCluster.exec("ctl", ["scancel", String(id)])
        let job = try VirtualCluster.waitForEnd(id, timeout: 60)
        #expect(job.state == "CANCELLED")
        let status = try record(directory, id)
        #expect(status.status.hasPrefix("TERMINATED"), "\(status)")
        #expect(status.exitCode == 143)
        let pipelineLog = try String(contentsOf: directory.appending(path: "slurm-distil-logs/\(id)/pipeline.log"), encoding: .utf8)
        #expect(pipelineLog.contains("started"))
        try expectNothingLeft(id)
    }

    @Test func timeLimitSignalStopsThePipelineCleanly() throws {
        // 1 minute limit, asked to stop 40 s before it.
        let directory = try generate([Self.probe, "sleep"], nodes: 2, time: "1", extra: ["--signal-lead", "40"])
        let id = try VirtualCluster.submit("job.sh", in: directory)
        let job = try VirtualCluster.waitForEnd(id, timeout: 120)
        let status = try record(directory, id)
        #expect(status.status.hasPrefix("TERMINATED"), "\(output(directory, id))")
        #expect(status.exitCode == 143)
        #expect(job.state == "FAILED", "bootstrap ended the job itself, before the limit")
        #expect(job.exitCode == "143:0")
        #expect(output(directory, id).contains("signal 15 received"))
        try expectNothingLeft(id)
    }
}

extension BootstrapOnClusterTests {
    @Test func rayMissingOnANodeFailsFastNamingItAndThePath() throws {
        let directory = try generate([Self.probe, "nodes"], nodes: 2, extra: ["--bootstrap-arg=--ray", "--bootstrap-arg=/nonexistent/venv/bin/ray"])
        let started = Date()
        let id = try VirtualCluster.submit("job.sh", in: directory)
        let job = try VirtualCluster.waitForEnd(id, timeout: 120)
        #expect(Date().timeIntervalSince(started) < 60, "no waiting for a readiness timeout")
        #expect(job.state == "FAILED")
        let text = output(directory, id)
        #expect(text.contains("the head step (n1) exited"), "\(text)")
        #expect(text.contains("/nonexistent/venv/bin/ray"))
        #expect(try record(directory, id).status == "BOOTSTRAP_FAILED")
        try expectNothingLeft(id)
    }
}

extension BootstrapOnClusterTests {
    /// Storage one node does not share: a tmpfs mounted over the folder inside n2's mount namespace.
    @Test func requireSharedRefusesAFolderOneNodeDoesNotSee() throws {
        let folder = try temporaryDirectory()
        let mount = try VirtualCluster.exec("n2", ["mount", "-t", "tmpfs", "tmpfs", folder.path])
        #expect(mount.status == 0, "\(mount.stderr)")
        defer { _ = try? VirtualCluster.exec("n2", ["umount", folder.path]) }
        let directory = try generate([Self.probe, "nodes"], nodes: 2, extra: ["--bootstrap-arg=--require-shared", "--bootstrap-arg=\(folder.path)"])
        let id = try VirtualCluster.submit("job.sh", in: directory)
        let job = try VirtualCluster.waitForEnd(id)
        let text = output(directory, id)
        #expect(job.state == "FAILED")
        #expect(job.exitCode == "2:0")
        #expect(text.contains("--require-shared \(folder.path) is not the same folder on every node (n2:"), "\(text)")
        #expect(!text.contains("submitted pipeline"), "the pipeline never started")
        try expectNothingLeft(id)
    }
}

extension BootstrapOnClusterTests {
    @Test func workerRayKilledMidPipelineFailsTheJobPromptly() throws {
        let directory = try generate([Self.probe, "sleep"], nodes: 2)
        let id = try VirtualCluster.submit("job.sh", in: directory)
        try waitForOutput(directory, id, "started")
        let pids = try runProcess("/usr/bin/env", ["ip", "netns", "pids", "sdv-n2"]).stdout.split(separator: "\n")
        let raylet = pids.first { pid in
            let commandLine = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map { String(decoding: $0, as: UTF8.self) } ?? ""
            return commandLine.contains("raylet/raylet") && commandLine.contains("sd-\(id)-n2")
        }
        let victim = try #require(raylet, "no raylet of job \(id) on n2")
        let killedAt = Date()
        _ = try runProcess("/bin/kill", ["-KILL", String(victim)])
        let job = try VirtualCluster.waitForEnd(id, timeout: 120)
        #expect(Date().timeIntervalSince(killedAt) < 60, "noticed within a bounded time")
        #expect(job.state == "FAILED")
        let text = output(directory, id)
        #expect(text.contains("workers step (n2) exited"), "\(text)")
        #expect(try record(directory, id).status == "BOOTSTRAP_FAILED")
        try expectNothingLeft(id)
    }
}

extension BootstrapOnClusterTests {
    @Test func stalledPipelineIsStoppedWithItsStackSaved() throws {
        let directory = try generate([Self.probe, "sleep"], nodes: 2, extra: ["--bootstrap-arg=--stall-timeout", "--bootstrap-arg=8s"])
        let id = try VirtualCluster.submit("job.sh", in: directory)
        let job = try VirtualCluster.waitForEnd(id, timeout: 180)
        #expect(job.exitCode == "8:0", "\(output(directory, id))")
        #expect(try record(directory, id).status == "STALLED")
        let stack = (try? String(contentsOf: directory.appending(path: "slurm-distil-logs/\(id)/stall-stack.txt"), encoding: .utf8)) ?? ""
        #expect(stack.contains("probe.py"), "py-spy's dump of the driver: \(stack.prefix(2000))")
        try expectNothingLeft(id)
    }

    @Test func maxRuntimeStopsTheJob() throws {
        let directory = try generate([Self.probe, "sleep"], nodes: 1, extra: ["--bootstrap-arg=--max-runtime", "--bootstrap-arg=5s"])
        let id = try VirtualCluster.submit("job.sh", in: directory)
        let job = try VirtualCluster.waitForEnd(id, timeout: 180)
        #expect(job.exitCode == "9:0", "\(output(directory, id))")
        #expect(try record(directory, id).status == "MAX_RUNTIME")
        #expect(output(directory, id).contains("--max-runtime"))
        try expectNothingLeft(id)
    }
}

extension BootstrapOnClusterTests {
    /// Another Unix user on the same node can read neither the job's token nor Ray's temp dir.
    @Test func anotherUserCannotReadTheTokenOrTheTempDir() throws {
        let user = "sdtestother"
        if try runProcess("/usr/bin/id", [user]).status != 0 {
            let added = try runProcess("/usr/sbin/useradd", ["--no-create-home", "--shell", "/usr/sbin/nologin", user])
            #expect(added.status == 0, "\(added.stderr)")
        }
        let directory = try generate([Self.probe, "sleep"], nodes: 1)
        // The submit folder itself is open to all; only what bootstrap creates must be closed.
        _ = try runProcess("/bin/chmod", ["755", directory.path])
        let id = try VirtualCluster.submit("job.sh", in: directory)
        try waitForOutput(directory, id, "started")
        let token = directory.appending(path: "slurm-distil-logs/\(id)/token").path
        let temp = "/tmp/sd-\(id)-n1"
        #expect(FileManager.default.fileExists(atPath: temp))
        for target in [["cat", token], ["ls", temp]] {
            let attempt = try runProcess("/usr/sbin/runuser", ["-u", user, "--"] + target)
            #expect(attempt.status != 0, "\(user) could run \(target): \(attempt.stdout)")
            #expect(attempt.stderr.contains("Permission denied"), "\(attempt.stderr)")
        }
        let mode = try FileManager.default.attributesOfItem(atPath: temp)[.posixPermissions] as? Int
        #expect(mode == 0o700)
        _ = try VirtualCluster.exec("ctl", ["scancel", String(id)])
        _ = try VirtualCluster.waitForEnd(id, timeout: 60)
        try expectNothingLeft(id)
    }
}
