import Foundation
import Testing
import TestSupport

@testable import SlurmDistil

/// What goes wrong in a real allocation, made to go wrong on purpose: each test checks the batch job's
/// status, the kept output and status.json, and that no Ray or helper process of the job remains.
@Suite(.serialized, .enabled(if: VirtualCluster.isUp)) struct FaultsOnClusterTests: BootstrapJobs {
    @Test func scancelStopsThePipelineKeepsItsOutputAndLeavesNothing() throws {
        let (directory, id) = try startRunning([Self.probe, "sleep"], nodes: 2)
        let running = try record(directory, id)
        #expect(running.status == .running && running.submissionID != nil, "status.json is there while the job runs")
        let cancelledAt = Date()
        _ = try VirtualCluster.exec("ctl", ["scancel", String(id)])
        let job = try VirtualCluster.waitForEnd(id, timeout: 60)
        #expect(job.state == "CANCELLED")
        let status = try record(directory, id)
        #expect(status.status == .terminated, "\(status)")
        #expect(status.exitCode == 143)
        #expect(jobFile(directory, id, "pipeline.log").contains("started"))
        try expectNothingLeft(id)
        recordFault("`scancel` of the batch job", behaviour: "pipeline stopped through the Jobs API, output and status.json kept", job: job, record: status, since: cancelledAt)
    }

    @Test func timeLimitSignalStopsThePipelineCleanly() throws {
        // 1 minute limit, asked to stop 40 s before it.
        let (directory, id, job) = try runToEnd([Self.probe, "sleep"], nodes: 2, time: "1", extra: ["--signal-lead", "40"], timeout: 120)
        let status = try record(directory, id)
        let text = output(directory, id)
        #expect(status.status == .terminated, "\(text)")
        #expect(status.exitCode == 143)
        #expect(job.state == "FAILED", "bootstrap ended the job itself, before the limit")
        #expect(job.exitCode == "143:0", "\(text)")
        #expect(text.contains("signal 15 received"))
        #expect(!text.contains("Fatal error") && !text.contains("crashed"), "\(text)")
        try expectNothingLeft(id)
        recordFault(
            "time limit reached (`--time 1 --signal-lead 40`)", behaviour: "SIGTERM 40 s before the limit: pipeline stopped, output kept, job ends before Slurm kills it",
            job: job, record: status)
    }

    @Test func rayMissingOnANodeFailsFastNamingItAndThePath() throws {
        let directory = try generate([Self.probe, "nodes"], nodes: 2, extra: ["--bootstrap-arg=--ray", "--bootstrap-arg=/nonexistent/venv/bin/ray"])
        let started = Date()
        let id = try VirtualCluster.submit("job.sh", in: directory)
        let job = try VirtualCluster.waitForEnd(id, timeout: 120)
        #expect(Date().timeIntervalSince(started) < 60, "no waiting for a readiness timeout")
        #expect(job.state == "FAILED")
        let text = output(directory, id)
        #expect(text.contains("the head step (n1) exited"), "\(text)")
        #expect(text.contains("n1: cannot start /nonexistent/venv/bin/ray: No such file or directory"), "\(text)")
        let status = try record(directory, id)
        #expect(status.status == .bootstrapFailed)
        try expectNothingLeft(id)
        recordFault("Ray not installed where the job looks (`--ray /nonexistent/venv/bin/ray`)", behaviour: "fails at once naming the node and the path", job: job, record: status, since: started)
    }

    @Test func aMissingVenvFailsAtOnceNamingTheNodeAndThePath() throws {
        let (directory, id, job) = try runToEnd([Self.probe, "nodes"], nodes: 2, extra: ["--venv", "/nonexistent/venv"], timeout: 60)
        #expect(job.state == "FAILED")
        #expect(job.exitCode == "3:0")
        let text = output(directory, id)
        #expect(text.contains("no venv at /nonexistent/venv on n1 (--venv)"), "\(text)")
        try expectNothingLeft(id)
        recordFault("the venv given to gen-sbatch does not exist (`--venv /nonexistent/venv`)", behaviour: "the script stops before bootstrap, naming the node and the path", job: job, record: nil)
    }

    @Test func workerRayKilledMidPipelineFailsTheJobPromptly() throws {
        let (directory, id) = try startRunning([Self.probe, "sleep"], nodes: 2)
        let victim = try #require(try processOfJob(id, on: "n2", matching: "raylet/raylet"), "no raylet of job \(id) on n2")
        let killedAt = Date()
        _ = try runProcess("/bin/kill", ["-KILL", String(victim)])
        let job = try VirtualCluster.waitForEnd(id, timeout: 120)
        #expect(Date().timeIntervalSince(killedAt) < 60, "noticed within a bounded time")
        #expect(job.state == "FAILED")
        #expect(output(directory, id).contains("workers step (n2) exited"), "\(output(directory, id))")
        let status = try record(directory, id)
        #expect(status.status == .bootstrapFailed)
        try expectNothingLeft(id)
        recordFault("a worker's raylet killed (SIGKILL) mid-pipeline", behaviour: "the worker step ends; bootstrap reports the node, stops the pipeline, tears down", job: job, record: status, since: killedAt)
    }

    @Test func headRayKilledMidPipelineIsNoticedAndReported() throws {
        let (directory, id) = try startRunning([Self.probe, "sleep"], nodes: 2)
        let victim = try #require(try processOfJob(id, on: "n1", matching: "gcs_server"), "no GCS of job \(id) on n1")
        let killedAt = Date()
        _ = try runProcess("/bin/kill", ["-KILL", String(victim)])
        let job = try VirtualCluster.waitForEnd(id, timeout: 180)
        let text = output(directory, id)
        #expect(Date().timeIntervalSince(killedAt) < 90, "noticed within a bounded time: \(text)")
        #expect(job.state == "FAILED", "\(text)")
        #expect(text.contains("head step (n1) exited"), "\(text)")
        let status = try record(directory, id)
        #expect(status.status == .bootstrapFailed)
        try expectNothingLeft(id)
        recordFault("the head's GCS killed (SIGKILL) mid-pipeline", behaviour: "the head step ends; bootstrap reports it, tears down the workers", job: job, record: status, since: killedAt)
    }

    /// slurmd is not the job: its steps go on without it. What must still hold is that the pipeline
    /// finishes, and that nothing of the job stays on the node once it has.
    @Test func workerSlurmdKilledMidPipeline() throws {
        let directory = try generate([Self.probe, "tick", "25"], nodes: 2)
        let id = try VirtualCluster.submit("job.sh", in: directory)
        try waitForOutput(directory, id, "tick 2 ")
        let killed = try VirtualCluster.run(["slurmd", "n2", "kill"])
        #expect(killed.status == 0, "\(killed.stderr)")
        var restarted = false
        defer { if !restarted { _ = try? VirtualCluster.run(["slurmd", "n2", "start"]) } }
        // Slurm keeps the job COMPLETING until n2's slurmd is back: bootstrap's own end is the mark.
        try waitForOutput(directory, id, "slurm-distil: done:", timeout: 180)
        let cleanup = try expectNothingLeft(id, within: 120)
        let text = output(directory, id)
        let lastTick = text.split(separator: "\n").last { $0.hasPrefix("tick ") } ?? ""
        #expect(lastTick.hasSuffix("hosts=n1,n2"), "n2 kept working: \(lastTick)")
        let status = try record(directory, id)
        #expect(status.status == .succeeded, "\(text)")
        let started = try VirtualCluster.run(["slurmd", "n2", "start"])
        restarted = true
        #expect(started.status == 0, "\(started.stderr)")
        let job = try VirtualCluster.waitForEnd(id, timeout: 120)
        #expect(job.state == "COMPLETED", "\(text)")
        ReliabilityLog.record(.init(
            category: "fault", scenario: "a worker's slurmd killed (SIGKILL) mid-pipeline",
            behaviour: "steps go on without slurmd, so the pipeline completes; srun's stop request cannot reach n2, whose agent stops its Ray once the head is gone (10 s); nothing left \(Int(cleanup.rounded())) s after bootstrap ended",
            exitCode: "\(ExitKind.describe(status.exitCode)) (Slurm \(job.state) \(job.exitCode))", detectSeconds: nil,
            cleanupSeconds: (status.teardownSeconds ?? 0) + cleanup))
    }

    @Test func pipelineCrashIsReportedWithItsTraceback() throws {
        let (directory, id, job) = try runToEnd([Self.probe, "crash"], nodes: 1)
        #expect(job.state == "FAILED")
        #expect(job.exitCode == "1:0")
        let status = try record(directory, id)
        #expect(status.status == .failed)
        #expect(jobFile(directory, id, "pipeline.log").contains("RuntimeError: the pipeline broke"))
        try expectNothingLeft(id)
        recordFault("the pipeline raises an exception", behaviour: "traceback in the output and pipeline.log; exit status 1", job: job, record: status)
    }

    @Test func aHundredMebibytesOfOutputArriveWhole() throws {
        let directory = try generate([Self.probe, "flood", "100"], nodes: 1)
        let started = Date()
        let id = try VirtualCluster.submit("job.sh", in: directory)
        let job = try VirtualCluster.waitForEnd(id, timeout: 300)
        let seconds = Date().timeIntervalSince(started)
        #expect(job.state == "COMPLETED", "\(output(directory, id).suffix(2000))")
        let log = directory.appending(path: "slurm-distil-logs/\(id)/pipeline.log").path
        let size = (try FileManager.default.attributesOfItem(atPath: log)[.size] as? Int) ?? 0
        #expect(size > 100 << 20)
        let handle = try #require(FileHandle(forReadingAtPath: log))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(size - 4096))
        let tail = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        #expect(tail.contains("flood done"))
        // Every numbered line arrived once, in order: the last number tells how many there were.
        let lines = tail.split(separator: "\n")
        let last = lines.last { $0.count > 10 && $0.first?.isNumber == true }.flatMap { Int($0.prefix(9)) } ?? -1
        #expect(last + 1 == (100 << 20 + 100) / 101, "lines 0...\(last)")
        try expectNothingLeft(id)
        recordFault(
            "the pipeline prints 100 MiB", behaviour: "all of it in order in pipeline.log and the batch output (\(size >> 20) MiB, job took \(Int(seconds)) s)",
            job: job, record: try record(directory, id))
    }

    /// Someone else holds a port of the job's block on the head, on loopback only: Ray's gRPC servers
    /// bind every interface, so that port is taken for them too.
    @Test func aTakenPortMovesTheJobToTheNextBlock() throws {
        let directory = try generate([Self.probe, "nodes"], nodes: 3)
        let held = try VirtualCluster.exec("ctl", ["sbatch", "--parsable", "--hold", "job.sh"], in: directory)
        let id = try #require(Int(held.stdout.split(separator: ";").first?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""), "\(held.stderr)")
        let port = RayPorts.block(jobID: String(id)).gcs
        let squatter = try ChildProcess.spawn(
            "/usr/bin/env",
            ["ip", "netns", "exec", "sdv-n1", "python3", "-c",
             "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', \(port))); s.listen(); time.sleep(300)"])
        defer {
            ProcessTree.terminate(squatter.pid, grace: 1)
            _ = squatter.wait()
        }
        var listening = false
        for _ in 0..<40 where !listening {
            listening = try runProcess("/usr/bin/env", ["ip", "netns", "exec", "sdv-n1", "ss", "-ltnH", "sport = :\(port)"]).stdout.contains(":\(port)")
            if !listening { Thread.sleep(forTimeInterval: 0.25) }
        }
        #expect(listening)
        _ = try VirtualCluster.exec("ctl", ["scontrol", "release", String(id)])
        let job = try VirtualCluster.waitForEnd(id)
        let text = output(directory, id)
        #expect(job.state == "COMPLETED", "\(text)")
        #expect(text.contains("port \(port) on n1 is in use; trying Ray ports"), "\(text)")
        let status = try record(directory, id)
        #expect(status.portBase == RayPorts.block(jobID: String(id), shift: 1).base)
        try expectNothingLeft(id)
        recordFault(
            "a port of the job's block already taken on the head (loopback only)", behaviour: "the next free block is used and named; the pipeline succeeds",
            job: job, record: status)
    }

    /// Ray's dashboard frozen (SIGSTOP) for 20 s while it starts, on a machine whose two cores are kept
    /// busy: bootstrap keeps waiting and saying so, and the pipeline runs once the dashboard answers.
    @Test func aSlowDashboardIsWaitedFor() throws {
        let burners = try (0..<4).map { _ in try ChildProcess.spawn("/bin/sh", ["-c", "while :; do :; done"]) }
        defer {
            for burner in burners {
                kill(burner.pid, SIGKILL)
                _ = burner.wait()
            }
        }
        let directory = try generate([Self.probe, "nodes"], nodes: 2)
        let id = try VirtualCluster.submit("job.sh", in: directory)
        var dashboard: Int32?
        let deadline = Date().addingTimeInterval(60)
        while dashboard == nil, Date() < deadline {
            dashboard = try processOfJob(id, on: "n1", matching: "dashboard/dashboard.py")
            if dashboard == nil { Thread.sleep(forTimeInterval: 0.05) }
        }
        let frozen = try #require(dashboard, "no dashboard of job \(id) on n1")
        kill(frozen, SIGSTOP)
        Thread.sleep(forTimeInterval: 20)
        kill(frozen, SIGCONT)
        let job = try VirtualCluster.waitForEnd(id, timeout: 300)
        let text = output(directory, id)
        #expect(job.state == "COMPLETED", "\(text)")
        #expect(text.contains("still waiting for Ray's dashboard"), "\(text)")
        #expect(text.contains("hosts=n1,n2"))
        let status = try record(directory, id)
        try expectNothingLeft(id)
        recordFault(
            "the dashboard frozen (SIGSTOP) for 20 s while Ray starts, the CPUs saturated (4 busy loops on 2 cores)",
            behaviour: "bootstrap keeps waiting and says so every 10 s (Ray ready after \(Int(status.seconds[.rayReady] ?? 0)) s); the pipeline succeeds",
            job: job, record: status)
    }

    @Test func stalledPipelineIsStoppedWithItsStackSaved() throws {
        let (directory, id, job) = try runToEnd([Self.probe, "sleep"], nodes: 2, extra: ["--bootstrap-arg=--stall-timeout", "--bootstrap-arg=8s"], timeout: 180)
        #expect(job.exitCode == "8:0", "\(output(directory, id))")
        let status = try record(directory, id)
        #expect(status.status == .stalled)
        let stack = jobFile(directory, id, "stall-stack.txt")
        #expect(stack.contains("probe.py"), "py-spy's dump of the driver: \(stack.prefix(2000))")
        try expectNothingLeft(id)
        recordFault("the pipeline prints nothing for longer than `--stall-timeout 8s`", behaviour: "driver's stack saved to stall-stack.txt, pipeline stopped", job: job, record: status)
    }

    @Test func maxRuntimeStopsTheJob() throws {
        let (directory, id, job) = try runToEnd([Self.probe, "sleep"], nodes: 1, extra: ["--bootstrap-arg=--max-runtime", "--bootstrap-arg=5s"], timeout: 180)
        #expect(job.exitCode == "9:0", "\(output(directory, id))")
        let status = try record(directory, id)
        #expect(status.status == .maxRuntime)
        #expect(output(directory, id).contains("--max-runtime"))
        try expectNothingLeft(id)
        recordFault("the pipeline runs longer than `--max-runtime 5s`", behaviour: "pipeline stopped, output kept", job: job, record: status)
    }
}
