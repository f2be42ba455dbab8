import Foundation
import SlurmDistil
import Testing
import TestSupport

/// gen-sbatch -> sbatch -> bootstrap jobs on the virtual cluster, as the cluster suites run them.
protocol BootstrapJobs {}

extension BootstrapJobs {
    static var probe: String { PackagePaths.fixtures.appending(path: "pipelines/probe.py").path }

    /// Writes job.sh for a Ray pipeline over `nodes` nodes with `gpusPerNode` GPUs each (nil: the job
    /// asks for GPUs some other way, in `extra`, or not at all); returns the folder. `binary` writes the
    /// script and so is the one the job runs.
    func generate(
        _ pipeline: [String], nodes: Int = 3, gpusPerNode: Int? = 1, time: String = "10", extra: [String] = [],
        venv: String = ".venv-ray", binary: String = PackagePaths.binary
    ) throws -> URL {
        let directory = try temporaryDirectory()
        var arguments = [
            "gen-sbatch", "--no-profile", "-N", String(nodes), "--time", time, "-J", "bt", "--venv", PackagePaths.root.appending(path: venv).path,
            "--bootstrap-arg=--object-store-memory", "--bootstrap-arg=80M", "-o", "job.sh",
        ]
        if let gpusPerNode { arguments += ["--gpus-per-node", String(gpusPerNode)] }
        let result = try runProcess(binary, arguments + extra + ["--", "python", "-u"] + pipeline, directory: directory)
        guard result.status == 0 else { throw TestFailure("gen-sbatch: \(result.stderr)") }
        return directory
    }

    /// generate, sbatch, and wait for the batch job to end.
    func runToEnd(
        _ pipeline: [String], nodes: Int = 3, gpusPerNode: Int? = 1, time: String = "10", extra: [String] = [], timeout: Double = 300,
        venv: String = ".venv-ray", binary: String = PackagePaths.binary
    ) throws -> (directory: URL, id: Int, job: SlurmJob) {
        let directory = try generate(pipeline, nodes: nodes, gpusPerNode: gpusPerNode, time: time, extra: extra, venv: venv, binary: binary)
        let id = try VirtualCluster.submit("job.sh", in: directory)
        return (directory, id, try VirtualCluster.waitForEnd(id, timeout: timeout))
    }

    /// generate, sbatch, and wait until the pipeline has printed `marker`.
    func startRunning(
        _ pipeline: [String], nodes: Int = 3, extra: [String] = [], until marker: String = "started", venv: String = ".venv-ray",
        binary: String = PackagePaths.binary
    ) throws -> (directory: URL, id: Int) {
        let directory = try generate(pipeline, nodes: nodes, extra: extra, venv: venv, binary: binary)
        let id = try VirtualCluster.submit("job.sh", in: directory)
        try waitForOutput(directory, id, marker)
        return (directory, id)
    }

    func output(_ directory: URL, _ job: Int) -> String {
        (try? String(contentsOf: directory.appending(path: "slurm-distil-logs/bt-\(job).out"), encoding: .utf8)) ?? ""
    }

    func jobFile(_ directory: URL, _ job: Int, _ name: String) -> String {
        (try? String(contentsOf: directory.appending(path: "slurm-distil-logs/\(job)/\(name)"), encoding: .utf8)) ?? ""
    }

    func record(_ directory: URL, _ job: Int) throws -> BootstrapStatus {
        try JSONDecoder().decode(BootstrapStatus.self, from: Data(contentsOf: directory.appending(path: "slurm-distil-logs/\(job)/status.json")))
    }

    /// No Ray or agent process of any job on any node, no private folder of this job; returns how long
    /// that took to become true after the batch job ended (Slurm reports the end a moment early).
    @discardableResult
    func expectNothingLeft(_ job: Int, within limit: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) throws -> Double {
        let started = Date()
        func temps() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: "/tmp").filter { $0.hasPrefix("sd-\(job)-") } }
        var left = try VirtualCluster.rayProcessesOnNodes()
        var folders = try temps()
        while !(left.isEmpty && folders.isEmpty), Date().timeIntervalSince(started) < limit {
            Thread.sleep(forTimeInterval: 0.25)
            left = try VirtualCluster.rayProcessesOnNodes()
            folders = try temps()
        }
        #expect(left == [], sourceLocation: sourceLocation)
        #expect(folders == [], "per-node temp dirs are removed", sourceLocation: sourceLocation)
        return Date().timeIntervalSince(started)
    }

    func waitForOutput(_ directory: URL, _ id: Int, _ text: String, timeout: Double = 120) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline, !output(directory, id).contains(text) {
            Thread.sleep(forTimeInterval: 0.25)
        }
        guard output(directory, id).contains(text) else { throw TestFailure("no '\(text)' in the output: \(output(directory, id))") }
    }

    /// The pid of a process of job `id` on `node` whose command line contains `fragment`.
    func processOfJob(_ id: Int, on node: String, matching fragment: String) throws -> Int32? {
        let pids = try runProcess("/usr/bin/env", ["ip", "netns", "pids", "sdv-\(node)"]).stdout.split(separator: "\n")
        return pids.first { pid in
            let commandLine = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map { String(decoding: $0, as: UTF8.self) } ?? ""
            return commandLine.contains(fragment) && commandLine.contains("sd-\(id)-\(node)")
        }.flatMap { Int32($0) }
    }

    func recordFault(_ scenario: String, behaviour: String, job: SlurmJob, record: BootstrapStatus?, since fault: Date? = nil) {
        ReliabilityLog.record(.init(
            category: "fault", scenario: scenario, behaviour: behaviour,
            exitCode: "\(record.map { ExitKind.describe($0.exitCode) } ?? "-") (Slurm \(job.state) \(job.exitCode))",
            detectSeconds: fault.flatMap { record?.finished(since: $0.timeIntervalSince1970) }, cleanupSeconds: record?.teardownSeconds))
    }
}
