import Foundation
import Testing
import TestSupport

@testable import SlurmDistil

func generate(_ arguments: [String], in directory: URL) throws -> ProcessResult {
    try runProcess(PackagePaths.binary, ["gen-sbatch", "--no-profile"] + arguments, directory: directory)
}

/// gen-sbatch's scripts against the real Slurm 22.05 daemons of the virtual cluster.
@Suite(.enabled(if: VirtualCluster.isUp)) struct SbatchOnClusterTests {
    @Test func sbatchAcceptsEveryTemplate() throws {
        let directory = try temporaryDirectory()
        for name in SbatchRenderer.builtInTemplates.keys.sorted() {
            for tail in [[], ["--", "python", "-u", "x.py"]] {
                let generated = try generate(
                    ["--template", name, "-N", "2", "--gpus-per-node", "1", "--time", "0:10:00", "--cpus-per-task", "1",
                     "--mem", "100M", "--partition", "debug", "--sbatch-arg=--comment=x", "-o", "job.sh"] + tail, in: directory)
                #expect(generated.status == 0, "\(generated.stderr)")
                let check = try VirtualCluster.exec("ctl", ["sbatch", "--test-only", "job.sh"], in: directory)
                #expect(check.status == 0, "\(name) \(tail): \(check.stderr)")
                #expect(check.stderr.contains("to start at"), "\(name): \(check.stderr)")
            }
        }
    }

    @Test func twoNodeGpuJobRunsOnEveryNode() throws {
        let directory = try temporaryDirectory()
        let report = #"echo "$(hostname) $(hostname -I | tr -d ' ') ${CUDA_VISIBLE_DEVICES:-none}""#
        let generated = try generate(
            ["--template", "sbatch-srun", "-N", "2", "--gpus-per-node", "1", "--time", "5", "-J", "two", "-o", "job.sh",
             "--", "bash", "-c", report], in: directory)
        #expect(generated.status == 0, "\(generated.stderr)")
        let job = try VirtualCluster.submitAndWait("job.sh", in: directory)
        #expect(job.state == "COMPLETED")
        #expect(job.exitCode == "0:0")
        let output = try String(contentsOf: directory.appending(path: "slurm-distil-logs/two-\(job.id).out"), encoding: .utf8)
        let lines = Set(output.split(separator: "\n").map(String.init))
        #expect(lines == ["n1 10.213.77.11 0", "n2 10.213.77.12 0"])
    }

    @Test func failingEntrypointFailsTheJob() throws {
        let directory = try temporaryDirectory()
        let generated = try generate(["--template", "sbatch-srun", "-N", "2", "-o", "job.sh"], in: directory)
        #expect(generated.status == 0)
        // The command comes at submission: the design card's reusable script.
        let job = try VirtualCluster.submitAndWait("job.sh", arguments: ["bash", "-c", "exit 3"], in: directory)
        #expect(job.state == "FAILED")
        #expect(job.exitCode == "3:0")
    }

    @Test func scriptWithoutCommandStopsWithAMessage() throws {
        let directory = try temporaryDirectory()
        _ = try generate(["-N", "1", "-J", "nocmd", "-o", "job.sh"], in: directory)
        let job = try VirtualCluster.submitAndWait("job.sh", in: directory)
        #expect(job.state == "FAILED")
        #expect(job.exitCode == "2:0")
        let output = try String(contentsOf: directory.appending(path: "slurm-distil-logs/nocmd-\(job.id).out"), encoding: .utf8)
        #expect(output.contains("no pipeline command was given"))
    }
}
