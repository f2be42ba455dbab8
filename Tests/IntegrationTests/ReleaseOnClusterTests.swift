import Foundation
import Testing
import TestSupport

@testable import SlurmDistil

/// The one release binary (built on Debian 12 against Slurm 22.05's headers) against whichever Slurm
/// the virtual cluster runs: 22.05 from this machine, 24.11 from a Debian 13 root filesystem
/// (scripts/test runs this suite on both). Every client command here is that Slurm's own.
@Suite(.serialized, .enabled(if: VirtualCluster.isUp && ReleaseBinary.path != nil))
struct ReleaseOnClusterTests: BootstrapJobs {
    let binary = ReleaseBinary.path ?? ""

    struct Plan: Decodable {
        struct Host: Decodable { var name: String; var address: String?; var reason: String }
        var head: String
        var hosts: [Host]
    }

    func submit(_ command: String, nodes: Int, in directory: URL) throws -> Int {
        let submitted = try VirtualCluster.exec(
            "ctl", ["sbatch", "--parsable", "-N", String(nodes), "-o", "out.txt", "--wrap", command], in: directory)
        guard let id = Int(submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TestFailure("sbatch did not submit: \(submitted.stdout) \(submitted.stderr)")
        }
        return id
    }

    @Test func theClusterRunsTheExpectedSlurm() throws {
        // Otherwise a cluster brought up with the wrong --slurm would pass everything below unnoticed.
        let version = try VirtualCluster.exec("ctl", ["scontrol", "--version"])
        #expect(version.stdout.hasPrefix("slurm-wlm \(ReleaseBinary.expectedSlurm)."), "\(version.stdout)")
        let daemons = try VirtualCluster.exec("ctl", ["sinfo", "-h", "-N", "-p", "debug", "-o", "%N %t %v"])
        let slurmdVersions = daemons.stdout.split(separator: "\n").map { $0.split(separator: " ").last.map(String.init) ?? "" }
        #expect(!slurmdVersions.isEmpty && slurmdVersions.allSatisfy { $0.hasPrefix(ReleaseBinary.expectedSlurm + ".") }, "\(daemons.stdout)")
    }

    /// The names the binary's libslurm gives for `list`, through `hosts --interface` (which looks no address up).
    func expand(_ list: String) throws -> (status: Int32, hosts: [String], stderr: String) {
        let result = try VirtualCluster.exec("ctl", [binary, "hosts", "--nodelist", list, "--interface", "ib0", "--json"])
        guard result.status == 0 else { return (result.status, [], result.stderr) }
        return (0, try JSONDecoder().decode(Plan.self, from: result.stdoutData).hosts.map(\.name), result.stderr)
    }

    @Test(arguments: HostListOnClusterTests.wellFormed)
    func hostListsAgreeWithThisSlurmsScontrol(list: String) throws {
        let slurm = try VirtualCluster.exec("ctl", ["scontrol", "show", "hostnames", list])
        #expect(slurm.status == 0, "\(slurm.stderr)")
        let ours = try expand(list)
        #expect(ours.status == 0, "\(ours.stderr)")
        #expect(ours.hosts == slurm.stdout.split(separator: "\n").map(String.init))
    }

    @Test(arguments: HostListOnClusterTests.rejectedBySlurm + HostListOnClusterTests.garbledBySlurm)
    func badListsAreRefused(list: String) throws {
        let ours = try expand(list)
        #expect(ours.status == 2, "\(list): \(ours.hosts)")
        #expect(ours.stderr.contains("invalid node list"))
    }

    @Test func nodeRecordsGiveEveryNodesAddress() throws {
        // Outside a job: node records from the controller through this Slurm's libslurm.
        let outside = try VirtualCluster.exec("ctl", [binary, "hosts", "--nodelist", "n[1-3]", "--address-from", "slurm", "--json"])
        #expect(outside.status == 0, "\(outside.stderr)")
        let plan = try JSONDecoder().decode(Plan.self, from: outside.stdoutData)
        #expect(plan.hosts.map(\.address) == ["10.213.77.11", "10.213.77.12", "10.213.77.13"])
        #expect(plan.hosts.allSatisfy { $0.reason == "Slurm's NodeAddr" }, "\(plan.hosts.map(\.reason))")

        // Inside a job on every node: the allocation's list and the records.
        let directory = try temporaryDirectory()
        let id = try submit("\(binary) hosts --json --address-from slurm > hosts.json", nodes: 3, in: directory)
        let job = try VirtualCluster.waitForEnd(id, timeout: 60)
        #expect(job.state == "COMPLETED", "\(job)")
        let inJob = try JSONDecoder().decode(Plan.self, from: Data(contentsOf: directory.appending(path: "hosts.json")))
        #expect(inJob.head == "n1")
        #expect(inJob.hosts.map(\.name) == ["n1", "n2", "n3"])
        #expect(inJob.hosts.map(\.address) == ["10.213.77.11", "10.213.77.12", "10.213.77.13"])
    }

    @Test func everyTemplatePassesSbatchTestOnly() throws {
        let directory = try temporaryDirectory()
        for name in SbatchRenderer.builtInTemplates.keys.sorted() {
            let generated = try runProcess(
                binary,
                ["gen-sbatch", "--no-profile", "--template", name, "-N", "2", "--gpus-per-node", "1", "--time", "0:10:00",
                 "--cpus-per-task", "1", "--mem", "100M", "--partition", "debug", "-o", "job.sh", "--", "python", "-u", "x.py"],
                directory: directory)
            #expect(generated.status == 0, "\(generated.stderr)")
            let check = try VirtualCluster.exec("ctl", ["sbatch", "--test-only", "job.sh"], in: directory)
            #expect(check.status == 0, "\(name): \(check.stderr)")
            #expect(check.stderr.contains("to start at"), "\(name): \(check.stderr)")
        }
    }

    /// The nodes run Ray from the project's venv. On 24.11 they see it through the bind-mounted /work
    /// and /root, which works while the venv's interpreter lives there (pyenv's, as on this machine):
    /// a venv on Debian 12's /usr/bin/python3 would meet Debian 13's Python inside the root filesystem.
    func expectRayRunsOnTheNodes() throws {
        let python = PackagePaths.root.appending(path: ".venv-ray/bin/python").path
        let check = try VirtualCluster.exec("n1", [python, "-c", "import ray; print(ray.__version__)"])
        #expect(check.status == 0, "the nodes cannot run \(python): \(check.stderr)")
    }

    @Test func bootstrapRunsRayOnTwoNodes() throws {
        try expectRayRunsOnTheNodes()
        let (directory, id, job) = try runToEnd([Self.probe, "nodes"], nodes: 2, binary: binary)
        let text = output(directory, id)
        #expect(job.state == "COMPLETED", "\(text)")
        #expect(text.contains("nodes=2 cpus=2 gpus=2"), "\(text)")
        #expect(text.contains("hosts=n1,n2"))
        #expect(try record(directory, id).status == .succeeded)
        try expectNothingLeft(id)
    }

    @Test func scancelLeavesNothingBehind() throws {
        try expectRayRunsOnTheNodes()
        let (directory, id) = try startRunning([Self.probe, "sleep"], nodes: 2, binary: binary)
        _ = try VirtualCluster.exec("ctl", ["scancel", String(id)])
        let job = try VirtualCluster.waitForEnd(id, timeout: 60)
        #expect(job.state == "CANCELLED")
        let status = try record(directory, id)
        #expect(status.status == .terminated, "\(status)")
        #expect(status.exitCode == 143)
        try expectNothingLeft(id)
    }

    @Test func bootstrapPlansInARealJob() throws {
        // Host lists expanded and compacted by this Slurm's libslurm, node records read, ports chosen.
        let directory = try temporaryDirectory()
        let id = try submit("\(binary) bootstrap --dry-run -- python -u x.py > plan.txt", nodes: 3, in: directory)
        let job = try VirtualCluster.waitForEnd(id, timeout: 60)
        #expect(job.state == "COMPLETED", "\(job)")
        let plan = try String(contentsOf: directory.appending(path: "plan.txt"), encoding: .utf8)
        #expect(plan.contains("job \(id): 3 nodes, head n1 at 10.213.77.11, workers n[2-3]"), "\(plan)")
    }
}
