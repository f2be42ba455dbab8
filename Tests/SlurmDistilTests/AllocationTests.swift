import Testing

@testable import SlurmDistil
@testable import SlurmDistilCLI

/// Environments recorded inside jobs on the virtual cluster (Slurm 22.05), one per way of asking for GPUs.
enum RecordedEnvironment {
    static let base = [
        "SLURM_JOB_ID": "1", "SLURM_JOBID": "1", "SLURM_JOB_NODELIST": "n[1-2]", "SLURM_NODELIST": "n[1-2]",
        "SLURM_JOB_NUM_NODES": "2", "SLURM_NNODES": "2", "SLURM_JOB_CPUS_PER_NODE": "1(x2)", "SLURM_CPUS_ON_NODE": "1",
        "SLURM_SUBMIT_DIR": "/tmp/envrec", "SLURM_TASKS_PER_NODE": "1(x2)", "SLURM_NODEID": "0",
    ]
    /// sbatch --gpus-per-node=1, batch script (no SLURMD_NODENAME there).
    static let gpusPerNodeBatch = base.merging([
        "CUDA_VISIBLE_DEVICES": "0", "GPU_DEVICE_ORDINAL": "0", "SLURM_GPUS_ON_NODE": "1", "SLURM_GPUS_PER_NODE": "1",
        "SLURM_JOB_GPUS": "0",
    ]) { $1 }
    /// The same job, inside an srun step.
    static let gpusPerNodeStep = gpusPerNodeBatch.merging(["SLURMD_NODENAME": "n2", "SLURM_STEP_GPUS": "0"]) { $1 }
    /// sbatch --gres=gpu:2
    static let gres = base.merging([
        "CUDA_VISIBLE_DEVICES": "0,1", "GPU_DEVICE_ORDINAL": "0,1", "SLURM_GPUS_ON_NODE": "2", "SLURM_JOB_GPUS": "0,1",
    ]) { $1 }
    /// sbatch --gpus=4 over 2 nodes
    static let gpusTotal = base.merging([
        "CUDA_VISIBLE_DEVICES": "0,1", "SLURM_GPUS": "4", "SLURM_GPUS_ON_NODE": "2", "SLURM_JOB_GPUS": "0,1",
    ]) { $1 }
    static let noGpus = base
}

@Suite struct AllocationTests {
    @Test func readsABatchScriptsEnvironment() throws {
        let allocation = try Allocation(environment: RecordedEnvironment.gpusPerNodeBatch, hostname: "n1")
        #expect(allocation.jobID == "1")
        #expect(allocation.nodes == ["n1", "n2"])
        #expect(allocation.thisNode == "n1")
        #expect(allocation.cpusPerNode == [1, 1])
        #expect(allocation.gpusPerNode == 1)
        #expect(allocation.gpuSource == "SLURM_GPUS_ON_NODE")
        #expect(allocation.submitDirectory == "/tmp/envrec")
        #expect(allocation.restartCount == 0)
    }

    @Test func stepsNameTheirNodeAndFqdnHostnamesAreShortened() throws {
        #expect(try Allocation(environment: RecordedEnvironment.gpusPerNodeStep, hostname: "n1").thisNode == "n2")
        #expect(try Allocation(environment: RecordedEnvironment.noGpus, hostname: "n2.cluster.local").thisNode == "n2")
        #expect(try Allocation(environment: RecordedEnvironment.noGpus, hostname: "login1").thisNode == nil)
    }

    @Test func gpusFromEveryWayOfAsking() throws {
        #expect(try Allocation(environment: RecordedEnvironment.gres).gpusPerNode == 2)
        #expect(try Allocation(environment: RecordedEnvironment.gpusTotal).gpusPerNode == 2)
        #expect(try Allocation(environment: RecordedEnvironment.noGpus).gpusPerNode == 0)
        // Without the per-node variable of job steps, the request variables are read.
        var perNode = RecordedEnvironment.noGpus
        perNode["SLURM_GPUS_PER_NODE"] = "a100:4"
        #expect(try Allocation(environment: perNode).gpusPerNode == 4)
        var tres = RecordedEnvironment.noGpus
        tres["SLURM_TRES_PER_NODE"] = "gres/gpu:a100:2,gres/nic:1"
        #expect(try Allocation(environment: tres).gpusPerNode == 2)
        var total = RecordedEnvironment.noGpus
        total["SLURM_GPUS"] = "6"
        #expect(try Allocation(environment: total).gpusPerNode == 3)
        total["SLURM_GPUS"] = "3"
        expectFailure(.environment, containing: "does not split evenly") { _ = try Allocation(environment: total) }
    }

    @Test(arguments: [("72(x2),36", [72, 72, 36]), ("4", [4]), ("2,2,1(x1)", [2, 2, 1])])
    func cpusPerNode(text: String, counts: [Int]) throws {
        #expect(try Allocation.cpusPerNode(["SLURM_JOB_CPUS_PER_NODE": text], nodeCount: counts.count) == counts)
    }

    @Test func outsideAnAllocationSaysHowToGetOne() {
        expectFailure(.environment, containing: "not inside a Slurm allocation") { _ = try Allocation(environment: [:]) }
        expectFailure(.environment, containing: "SLURM_JOB_NODELIST is not") { _ = try Allocation(environment: ["SLURM_JOB_ID": "3"]) }
        expectFailure(.usage, containing: "invalid node list") {
            _ = try Allocation(environment: ["SLURM_JOB_ID": "3", "SLURM_JOB_NODELIST": "n[1-"])
        }
        var inconsistent = RecordedEnvironment.base
        inconsistent["SLURM_JOB_NUM_NODES"] = "3"
        expectFailure(.environment, containing: "names 2 nodes but SLURM_JOB_NUM_NODES says 3") { _ = try Allocation(environment: inconsistent) }
        var garbled = RecordedEnvironment.base
        garbled["SLURM_JOB_CPUS_PER_NODE"] = "lots"
        expectFailure(.environment, containing: "cannot read SLURM_JOB_CPUS_PER_NODE") { _ = try Allocation(environment: garbled) }
    }
}

struct FakeNodeDirectory: NodeDirectory {
    var records: [String: SlurmNodeRecord]?
    var dns: [String: [String]] = [:]
    var interfaces: [NetworkInterface] = []

    func slurmNodeRecords() throws(Failure) -> [String: SlurmNodeRecord]? { records }
    func resolve(_ host: String) -> [String] { dns[host] ?? [] }
    func localInterfaces() -> [NetworkInterface] { interfaces }
}

@Suite struct AddressPlannerTests {
    let allocation = try! Allocation(environment: RecordedEnvironment.gpusPerNodeStep.merging(["SLURM_JOB_NODELIST": "n[1-3]", "SLURM_JOB_NUM_NODES": "3", "SLURM_JOB_CPUS_PER_NODE": "8(x3)"]) { $1 })

    @Test func slurmRecordsGiveAddressesAndTheFirstNodeIsHead() throws {
        let directory = FakeNodeDirectory(records: [
            "n1": .init(name: "n1", address: "10.0.0.1", hostname: "n1"),
            "n2": .init(name: "n2", address: "10.0.0.2", hostname: "n2"),
            "n3": .init(name: "n3", address: "n3-ib", hostname: "n3"),
        ], dns: ["n3-ib": ["192.168.5.3"]])
        let plan = try AddressPlanner(directory: directory).plan(allocation, policy: .auto)
        #expect(plan.head == "n1")
        #expect(plan.hosts.map(\.role) == [.head, .worker, .worker])
        #expect(plan.hosts.map(\.address) == ["10.0.0.1", "10.0.0.2", "192.168.5.3"])
        #expect(plan.hosts[2].reason.contains("NodeAddr n3-ib"))
        #expect(plan.hosts.map(\.cpus) == [8, 8, 8])
        #expect(plan.hosts.map(\.gpus) == [1, 1, 1])
        let moved = try AddressPlanner(directory: directory).plan(allocation, policy: .slurm, headNode: "n3")
        #expect(moved.head == "n3")
        #expect(moved.hosts.map(\.role) == [.worker, .worker, .head])
    }

    @Test func dnsSkipsLoopbackAndExplainsAChoice() throws {
        let directory = FakeNodeDirectory(records: nil, dns: [
            "n1": ["127.0.1.1", "10.0.0.1"], "n2": ["10.0.0.2", "fd00::2", "172.16.0.2"], "n3": ["10.0.0.3"],
        ])
        let plan = try AddressPlanner(directory: directory).plan(allocation, policy: .auto)
        #expect(plan.hosts.map(\.address) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"])
        #expect(plan.hosts[1].reason.contains("chose 10.0.0.2"))
        #expect(plan.hosts[1].reason.contains("--interface"))
        let onlyLoopback = FakeNodeDirectory(records: nil, dns: ["n1": ["127.0.1.1"], "n2": ["10.0.0.2"], "n3": ["10.0.0.3"]])
        expectFailure(.environment, containing: "resolves only to loopback") {
            _ = try AddressPlanner(directory: onlyLoopback).plan(allocation, policy: .dns)
        }
        expectFailure(.environment, containing: "n1 does not resolve") {
            _ = try AddressPlanner(directory: FakeNodeDirectory(records: nil)).plan(allocation, policy: .dns)
        }
    }

    @Test func surveyShowsEveryNodeAndWhyOneHasNoAddress() throws {
        let allocation = try Allocation(nodeList: "n[01-03],gpu7")
        let directory = FakeNodeDirectory(records: nil, dns: ["n02": ["127.0.1.1"], "gpu7": ["10.0.0.7"]])
        let survey = try AddressPlanner(directory: directory).survey(allocation, policy: .dns)
        #expect(survey.plan.hosts.map(\.name) == ["n01", "n02", "n03", "gpu7"])
        #expect(survey.plan.hosts.map(\.address) == [nil, nil, nil, "10.0.0.7"])
        #expect(survey.plan.hosts[0].problem == "node n01 has no address: n01 does not resolve")
        #expect(survey.plan.hosts[1].problem?.contains("resolves only to loopback") == true)
        #expect(survey.plan.hosts[3].problem == nil)
        #expect(survey.failures.map(\.node) == ["n01", "n02", "n03"])
        let summary = try #require(survey.summary)
        #expect(summary.kind == .environment)
        #expect(summary.message.hasPrefix("3 of 4 nodes have no address (n[01-03]); the first: node n01 has no address"))
        #expect(summary.hint?.contains("check DNS or /etc/hosts for n01") == true)
        let table = HostsReport.table(survey.plan)
        #expect(table.split(separator: "\n").count == 6, "a summary line, the header, and all four nodes: \(table)")
        #expect(table.contains("n01   head    NONE      -     0     node n01 has no address: n01 does not resolve"), "\(table)")
        #expect(table.contains("gpu7  worker  10.0.0.7"))
        // A run that needs every node still stops at the first without an address.
        expectFailure(.environment, containing: "node n01 has no address") {
            _ = try AddressPlanner(directory: directory).plan(allocation, policy: .dns)
        }
        let one = try AddressPlanner(directory: directory).survey(try Allocation(nodeList: "n01,gpu7"), policy: .dns)
        #expect(one.summary?.message == "node n01 has no address: n01 does not resolve")
        #expect(try AddressPlanner(directory: directory).survey(try Allocation(nodeList: "gpu7"), policy: .dns).summary == nil)
    }

    @Test func slurmPolicyNeedsAConfiguration() {
        expectFailure(.environment, containing: "no slurm.conf is reachable") {
            _ = try AddressPlanner(directory: FakeNodeDirectory(records: nil)).plan(allocation, policy: .slurm)
        }
        expectFailure(.environment, containing: "no node record for n2") {
            _ = try AddressPlanner(directory: FakeNodeDirectory(records: ["n1": .init(name: "n1", address: "10.0.0.1", hostname: "n1")]))
                .plan(allocation, policy: .slurm)
        }
    }

    @Test func interfacesAreReadOnTheNodeItself() throws {
        let directory = FakeNodeDirectory(records: nil, interfaces: [
            .init(name: "lo", address: "127.0.0.1", isIPv6: false),
            .init(name: "ib0", address: "fe80::1", isIPv6: true),
            .init(name: "ib0", address: "fd00::5", isIPv6: true),
            .init(name: "eth0", address: "10.1.0.2", isIPv6: false),
            .init(name: "eth0", address: "fd01::2", isIPv6: true),
        ])
        let plan = try AddressPlanner(directory: directory).plan(allocation, policy: .interface("ib0"))
        // This process runs on n2 (SLURMD_NODENAME); the others read their own interface.
        #expect(plan.hosts.map(\.address) == [nil, "fd00::5", nil])
        #expect(try AddressPlanner(directory: directory).localAddress(interface: "eth0", node: "n2") == "10.1.0.2")
        expectFailure(.usage, containing: "node n2 has no interface ib1") {
            _ = try AddressPlanner(directory: directory).localAddress(interface: "ib1", node: "n2")
        }
        do {
            _ = try AddressPlanner(directory: directory).localAddress(interface: "ib1", node: "n2")
        } catch {
            #expect(error.hint == "interfaces with addresses on n2: lo, ib0, eth0")
        }
    }

    @Test func headNodeMustBeInTheAllocation() {
        expectFailure(.usage, containing: "--head-node n9 is not part of the allocation") {
            _ = try AddressPlanner.head(of: allocation, requested: "n9")
        }
    }
}
