import Foundation
import Testing
import TestSupport

/// `slurm-distil hosts` inside real jobs: libslurm node records, interfaces, and errors.
@Suite(.enabled(if: VirtualCluster.isUp)) struct HostsOnClusterTests {
    struct Plan: Decodable {
        struct Host: Decodable { var name: String; var role: String; var address: String?; var gpus: Int; var cpus: Int? }
        var head: String
        var hosts: [Host]
    }

    func batch(_ script: String, nodes: Int, extra: [String] = []) throws -> (SlurmJob, String) {
        let directory = try temporaryDirectory()
        let submitted = try VirtualCluster.exec(
            "ctl", ["sbatch", "--parsable", "--wait", "-N", String(nodes), "-o", "out.txt"] + extra + ["--wrap", script], in: directory)
        let id = Int(submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        let output = (try? String(contentsOf: directory.appending(path: "out.txt"), encoding: .utf8)) ?? ""
        return (try VirtualCluster.job(id), output)
    }

    @Test func addressesMatchEveryNodesNamespace() throws {
        let (job, output) = try batch("\(PackagePaths.binary) hosts --json", nodes: 3, extra: ["--gpus-per-node=1"])
        #expect(job.state == "COMPLETED", "\(output)")
        let plan = try JSONDecoder().decode(Plan.self, from: Data(output.utf8))
        #expect(plan.head == "n1")
        #expect(plan.hosts.map(\.name) == ["n1", "n2", "n3"])
        #expect(plan.hosts.map(\.role) == ["head", "worker", "worker"])
        #expect(plan.hosts.map(\.address) == ["10.213.77.11", "10.213.77.12", "10.213.77.13"])
        #expect(plan.hosts.map(\.gpus) == [1, 1, 1])
        // Each address is the one its node really has: ask every node in one step.
        let (_, seen) = try batch("srun --ntasks-per-node=1 sh -c 'echo $SLURMD_NODENAME $(hostname -I)' | sort", nodes: 3)
        let lines = seen.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines == ["n1 10.213.77.11", "n2 10.213.77.12", "n3 10.213.77.13"])
    }

    @Test func everyNodeReadsItsOwnInterface() throws {
        let (job, output) = try batch("srun --ntasks-per-node=1 \(PackagePaths.binary) hosts --this-node --interface eth0 | sort", nodes: 3)
        #expect(job.state == "COMPLETED")
        #expect(output == "n1 10.213.77.11\nn2 10.213.77.12\nn3 10.213.77.13\n")
    }

    @Test func bogusInterfaceFailsCleanly() throws {
        let (job, output) = try batch("\(PackagePaths.binary) hosts --interface ib7", nodes: 2)
        #expect(job.exitCode == "2:0")
        #expect(output.contains("node n1 has no interface ib7"))
        #expect(output.contains("interfaces with addresses on n1: lo, eth0"))
        #expect(!output.contains("Fatal error"))
    }

    @Test func outsideAnAllocationWithANodeList() throws {
        // On the controller, with SLURM_CONF pointing at the cluster: libslurm's records, no job needed.
        let result = try VirtualCluster.exec("ctl", [PackagePaths.binary, "hosts", "--nodelist", "n[2-3]", "--address-from", "slurm"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("n2    head    10.213.77.12"))
        #expect(result.stdout.contains("n3    worker  10.213.77.13"))
        let outside = try VirtualCluster.exec("ctl", ["env", "-u", "SLURM_JOB_ID", PackagePaths.binary, "hosts"])
        #expect(outside.status == 3)
        #expect(outside.stderr.contains("not inside a Slurm allocation"))
    }

    @Test func noConfigurationMeansDnsNotACrash() throws {
        // slurm_init() would end the process without a slurm.conf; the tool must never call it then.
        let result = try VirtualCluster.exec("ctl", ["env", "SLURM_CONF=/nonexistent/slurm.conf", PackagePaths.binary, "hosts", "--nodelist", "n1,ctl"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("10.213.77.11"))
        #expect(result.stdout.contains("DNS (no Slurm node records here)"))
        let strict = try VirtualCluster.exec("ctl", ["env", "SLURM_CONF=/nonexistent/slurm.conf", PackagePaths.binary, "hosts", "--nodelist", "n1", "--address-from", "slurm"])
        #expect(strict.status == 3)
        #expect(strict.stderr.contains("no slurm.conf is reachable"))
    }
}
