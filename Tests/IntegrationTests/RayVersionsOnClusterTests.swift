import Foundation
import SlurmDistil
import Testing
import TestSupport

/// bootstrap with each Ray it supports, on 2 nodes: 2.44 (no token authentication), 2.52 (the first
/// with it) and 2.60 (the default venv, in every other suite).
@Suite(.enabled(if: VirtualCluster.isUp)) struct RayVersionsOnClusterTests: BootstrapJobs {
    @Test func ray244IsRefusedBeforeAnythingStarts() throws {
        let (directory, id, job) = try runToEnd([Self.probe, "nodes"], nodes: 2, venv: ".venv-ray-2.44.1")
        let text = output(directory, id)
        #expect(job.exitCode == "3:0", "\(text)")
        #expect(text.contains("Ray 2.44.1 (ray) has no token authentication, which came with Ray 2.52"), "\(text)")
        #expect(text.contains("--insecure-no-auth"))
        #expect(!text.contains("starting Ray"), "nothing was started")
        ReliabilityLog.record(.init(
            category: "security", scenario: "a venv with Ray 2.44 (no token authentication) given to bootstrap",
            behaviour: "refused before any srun, naming the version, why, and --insecure-no-auth", exitCode: ExitKind.describe(3)))
    }

    @Test func ray244RunsWithInsecureNoAuthWithItsDashboardOnTheHeadsLoopbackOnly() throws {
        let directory = try generate([Self.probe, "tick", "25"], nodes: 2, extra: ["--bootstrap-arg=--insecure-no-auth"], venv: ".venv-ray-2.44.1")
        let id = try VirtualCluster.submit("job.sh", in: directory)
        defer { _ = try? VirtualCluster.exec("ctl", ["scancel", String(id)]) }
        try waitForOutput(directory, id, "tick 1", timeout: 180)
        let port = try record(directory, id).portBase + 1
        // From another node, and on the head's own cluster address: nothing listens there.
        let fromWorker = try VirtualCluster.exec("n2", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "http://10.213.77.11:\(port)/api/version"])
        #expect(fromWorker.status == 7, "curl: connection refused (\(fromWorker.status) \(fromWorker.stdout))")
        let job = try VirtualCluster.waitForEnd(id, timeout: 180)
        let text = output(directory, id)
        #expect(job.state == "COMPLETED", "\(text)")
        #expect(text.contains("warning: Ray 2.44.1 has no token authentication; --insecure-no-auth"), "\(text)")
        #expect(text.contains("hosts=n1,n2"), "\(text)")
        let status = try record(directory, id)
        #expect(status.authentication == .none && status.rayVersion == "2.44.1" && status.warnings.count == 1)
        #expect(jobFile(directory, id, "token").isEmpty, "no token is made when none is used")
        try expectNothingLeft(id)
        ReliabilityLog.record(.init(
            category: "security", scenario: "Ray 2.44 with --insecure-no-auth: the dashboard from another node",
            behaviour: "connection refused (it listens on the head's loopback only); the run succeeds with a warning in the output and status.json",
            exitCode: ExitKind.describe(0)))
    }

    @Test func ray252RunsWithTokenAuthentication() throws {
        let (directory, id, job) = try runToEnd([Self.probe, "auth"], nodes: 2, venv: ".venv-ray-2.52.1")
        let text = output(directory, id)
        #expect(job.state == "COMPLETED", "\(text)")
        #expect(text.contains("unauthenticated status 401"), "\(text)")
        #expect(text.contains("wrong-token status 403") || text.contains("wrong-token status 401"), "\(text)")
        let status = try record(directory, id)
        #expect(status.authentication == .token && status.rayVersion == "2.52.1")
        try expectNothingLeft(id)
    }
}
