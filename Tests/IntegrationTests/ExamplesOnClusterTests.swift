import Foundation
import Testing
import TestSupport

/// The examples end to end through the whole tool: gen-sbatch -> sbatch -> bootstrap -> Ray Jobs API
/// -> result on shared storage, checked here and by the pipelines themselves.
@Suite(.serialized, .enabled(if: VirtualCluster.isUp)) struct ExamplesOnClusterTests: BootstrapJobs {
    let venv = PackagePaths.root.appending(path: ".venv-ray").path

    func run(_ name: String, _ pipeline: [String], in directory: URL) throws -> (SlurmJob, String) {
        let generated = try runProcess(
            PackagePaths.binary,
            ["gen-sbatch", "--no-profile", "-N", "3", "--time", "15", "-J", name, "--venv", venv,
             "--bootstrap-arg=--object-store-memory", "--bootstrap-arg=80M",
             "--bootstrap-arg=--require-shared", "--bootstrap-arg=\(directory.path)", "-o", "job.sh", "--", "python", "-u"] + pipeline,
            directory: directory)
        guard generated.status == 0 else { throw TestFailure(generated.stderr) }
        let id = try VirtualCluster.submit("job.sh", in: directory)
        let job = try VirtualCluster.waitForEnd(id, timeout: 600)
        let output = (try? String(contentsOf: directory.appending(path: "slurm-distil-logs/\(name)-\(id).out"), encoding: .utf8)) ?? ""
        try expectNothingLeft(id)
        return (job, output)
    }

    @Test func distilabelPipelineOnRay() throws {
        let directory = try temporaryDirectory()
        let script = PackagePaths.root.appending(path: "examples/distilabel-ray/pipeline.py").path
        let (job, output) = try run("distilabel", [script, directory.appending(path: "out").path, "2000"], in: directory)
        #expect(job.state == "COMPLETED", "\(output.suffix(3000))")
        #expect(output.contains("rows=2000 expected=2000"))
        #expect(output.contains("pipeline check passed"))
        let hosts = output.split(separator: "\n").first { $0.hasPrefix("square ran on: ") }.map { $0.dropFirst(15).split(separator: ",") } ?? []
        #expect(hosts.count >= 2, "the replicated step ran on more than one node: \(hosts)")
        #expect(FileManager.default.fileExists(atPath: directory.appending(path: "out/distiset").path))
    }

    @Test func rayDataBatchJob() throws {
        let directory = try temporaryDirectory()
        let script = PackagePaths.root.appending(path: "examples/ray-data/pipeline.py").path
        let (job, output) = try run("raydata", [script, directory.appending(path: "parquet").path, "10000"], in: directory)
        #expect(job.state == "COMPLETED", "\(output.suffix(3000))")
        #expect(output.contains("rows=10000 expected=10000"))
        #expect(output.contains("pipeline check passed"))
        let parts = try FileManager.default.contentsOfDirectory(atPath: directory.appending(path: "parquet").path).filter { $0.hasSuffix(".parquet") }
        #expect(!parts.isEmpty)
    }
}
