import Foundation
import SlurmDistil
import Testing
import TestSupport

/// gen-sbatch -> sbatch -> bootstrap -> Ray Jobs API on the virtual cluster, with real Slurm and Ray.
@Suite(.serialized, .enabled(if: VirtualCluster.isUp)) struct BootstrapOnClusterTests: BootstrapJobs {
    @Test func threeNodePipelineSeesEveryNodeAndGpu() throws {
        let shared = try temporaryDirectory()
        let (directory, id, job) = try runToEnd([Self.probe, "nodes"], extra: ["--bootstrap-arg=--require-shared", "--bootstrap-arg=\(shared.path)"])
        let text = output(directory, id)
        #expect(job.state == "COMPLETED", "\(text)")
        #expect(text.contains("nodes=3 cpus=3 gpus=3"))
        #expect(text.contains("hosts=n1,n2,n3"))
        #expect(text.contains("\(shared.path) is shared by all 3 nodes"))
        let status = try record(directory, id)
        #expect(status.status == .succeeded)
        #expect(status.exitCode == 0)
        #expect(status.seconds[.rayReady] != nil && status.seconds[.submitted] != nil)
        #expect(jobFile(directory, id, "pipeline.log").contains("hosts=n1,n2,n3"))
        let token = try FileManager.default.attributesOfItem(atPath: directory.appending(path: "slurm-distil-logs/\(id)/token").path)
        #expect((token[.posixPermissions] as? Int) == 0o600)
        try expectNothingLeft(id)
    }

    @Test func pipelineExitCodeBecomesTheSlurmJobsStatus() throws {
        let (directory, id, job) = try runToEnd([Self.probe, "nodes", "3"], nodes: 2)
        #expect(job.state == "FAILED")
        #expect(job.exitCode == "3:0", "\(output(directory, id))")
        let status = try record(directory, id)
        #expect(status.status == .failed)
        #expect(output(directory, id).contains("hosts=n1,n2"))
        try expectNothingLeft(id)
        recordFault("the pipeline exits with status 3", behaviour: "its exit status becomes the batch job's", job: job, record: status)
    }

    /// `--gpus=N` for the whole job: srun steps that inherit it are refused ("Invalid generic resource
    /// specification"), so bootstrap's steps ask for their nodes' GPUs themselves.
    @Test func aJobAskingForGpusWithGpusRuns() throws {
        let (directory, id, job) = try runToEnd([Self.probe, "nodes"], nodes: 2, gpusPerNode: nil, extra: ["--sbatch-arg=--gpus=2"])
        let text = output(directory, id)
        #expect(job.state == "COMPLETED", "\(text)")
        #expect(text.contains("nodes=2 cpus=2 gpus=2"), "\(text)")
        try expectNothingLeft(id)
    }

    @Test func twoJobsShareTheSameNodes() throws {
        let first = try generate([Self.probe, "nodes"])
        let second = try generate([Self.probe, "nodes"])
        let ids = try [VirtualCluster.submit("job.sh", in: first), VirtualCluster.submit("job.sh", in: second)]
        let jobs = try ids.map { try VirtualCluster.waitForEnd($0) }
        #expect(jobs.map(\.state) == ["COMPLETED", "COMPLETED"], "\(output(first, ids[0]))\n\(output(second, ids[1]))")
        #expect(jobs[0].nodeList == jobs[1].nodeList)
        let records = try [record(first, ids[0]), record(second, ids[1])]
        #expect(records[0].rayPorts != records[1].rayPorts)
        for id in ids { try expectNothingLeft(id) }
        recordFault(
            "two jobs on the same three nodes at once", behaviour: "both succeed: Ray ports \(records[0].rayPorts) and \(records[1].rayPorts), separate temp dirs",
            job: jobs[1], record: records[1])
    }

    /// Storage one node does not share: a tmpfs mounted over the folder inside n2's mount namespace.
    @Test func requireSharedRefusesAFolderOneNodeDoesNotSee() throws {
        let folder = try temporaryDirectory()
        let mount = try VirtualCluster.exec("n2", ["mount", "-t", "tmpfs", "tmpfs", folder.path])
        #expect(mount.status == 0, "\(mount.stderr)")
        defer { _ = try? VirtualCluster.exec("n2", ["umount", folder.path]) }
        let (directory, id, job) = try runToEnd([Self.probe, "nodes"], nodes: 2, extra: ["--bootstrap-arg=--require-shared", "--bootstrap-arg=\(folder.path)"])
        let text = output(directory, id)
        #expect(job.state == "FAILED")
        #expect(job.exitCode == "2:0")
        #expect(text.contains("--require-shared \(folder.path) is not the same folder on every node (n2:"), "\(text)")
        #expect(!text.contains("submitted pipeline"), "the pipeline never started")
        try expectNothingLeft(id)
        recordFault(
            "--require-shared names a folder that n2 does not share", behaviour: "refused before the pipeline starts, naming the node",
            job: job, record: try? record(directory, id))
    }
}
