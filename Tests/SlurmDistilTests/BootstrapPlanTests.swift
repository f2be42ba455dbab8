import Foundation

#if canImport(Glibc)
    import Glibc
#endif
import Testing
import TestSupport

@testable import SlurmDistil

@Suite struct BootstrapPlanTests {
    let allocation = try! Allocation(environment: RecordedEnvironment.gpusPerNodeBatch.merging(
        ["SLURM_JOB_ID": "4711", "SLURM_JOB_NODELIST": "n[1-3]", "SLURM_JOB_NUM_NODES": "3", "SLURM_JOB_CPUS_PER_NODE": "4(x3)"]) { $1 },
        hostname: "n1")

    func plan(_ configure: (inout BootstrapOptions) -> Void = { _ in }) throws -> BootstrapPlan {
        var options = BootstrapOptions(launcher: "/opt/sd/slurm-distil", jobFolder: "/home/u/slurm-distil-logs/4711")
        configure(&options)
        return try BootstrapPlan.make(allocation: allocation, options: options, headAddress: "10.0.0.1", ports: RayPorts.block(jobID: "4711"))
    }

    @Test func portsComeFromTheJobIdInABlockBelowTheEphemeralRange() {
        for id in ["1", "59", "60", "4711", "99999", "123_4", "abc"] {
            let ports = RayPorts.block(jobID: id)
            #expect(ports.base >= 20_000 && ports.maxWorker < 32_000, "\(id)")
            #expect(Set(ports.headPorts).count == ports.headPorts.count)
            #expect(ports.headPorts.allSatisfy { $0 < ports.minWorker })
        }
        #expect(RayPorts.block(jobID: "4711") != RayPorts.block(jobID: "4712"), "neighbouring jobs get different blocks")
        #expect(RayPorts.block(jobID: "4711", shift: 1) == RayPorts.block(jobID: "4712"))
    }

    @Test func oneStepForTheHeadAndOneForAllWorkers() throws {
        let plan = try plan()
        #expect(plan.head == "n1")
        #expect(plan.workers == ["n2", "n3"])
        #expect(plan.headStep.arguments.prefix(2) == ["srun", "--overlap"])
        #expect(plan.headStep.arguments.contains("--nodelist=n1"))
        let workers = try #require(plan.workerStep).arguments
        #expect(workers.contains("--overlap") && workers.contains("--nodes=2") && workers.contains("--ntasks=2") && workers.contains("--exclude=n1"))
        #expect(workers.contains("--head-address") && workers.contains("10.0.0.1:\(plan.ports.gcs)"))
        #expect(plan.dashboardURL == "http://10.0.0.1:\(plan.ports.dashboard)")
        #expect(plan.dashboardHost == "10.0.0.1", "never 0.0.0.0 unless asked")
        #expect(plan.tokenPath == "/home/u/slurm-distil-logs/4711/token")
        #expect(!plan.description.contains("0.0.0.0"))
    }

    @Test func stepsAskForTheirNodesGpusThemselves() throws {
        #expect(allocation.gpusPerNode == 1)
        let withGPUs = try plan()
        #expect(withGPUs.headStep.arguments.contains("--gpus-per-node=\(allocation.gpusPerNode)"))
        #expect(try #require(withGPUs.workerStep).arguments.contains("--gpus-per-node=\(allocation.gpusPerNode)"))
        var cpuOnly = allocation
        cpuOnly.gpusPerNode = 0
        let plain = try BootstrapPlan.make(allocation: cpuOnly, options: BootstrapOptions(launcher: "sd", jobFolder: "/j"), headAddress: "10.0.0.1", ports: RayPorts(base: 20_000))
        #expect(!plain.headStep.arguments.contains { $0.hasPrefix("--gpus") })
        let environment = BootstrapPlan.stepEnvironment(["SLURM_GPUS": "2", "SLURM_GPUS_ON_NODE": "1", "SLURM_JOB_ID": "7"])
        #expect(environment == ["SLURM_GPUS_ON_NODE": "1", "SLURM_JOB_ID": "7"])
    }

    @Test func singleNodeHasNoWorkerStepAndIPv6IsBracketed() throws {
        var single = allocation
        single.nodes = ["n1"]
        let plan = try BootstrapPlan.make(
            allocation: single, options: BootstrapOptions(launcher: "sd", jobFolder: "/j"), headAddress: "fd00::1", ports: RayPorts(base: 20_000))
        #expect(plan.workerStep == nil)
        #expect(plan.dashboardURL == "http://[fd00::1]:20001")
    }

    @Test func rayStartPassesEverythingExplicitly() {
        let ports = RayPorts(base: 20_400)
        let head = BootstrapPlan.rayStart(
            ray: "ray", role: .head, nodeAddress: "10.0.0.1", headAddress: nil, dashboardHost: "10.0.0.1", ports: ports,
            tempDirectory: "/tmp/sd-1-n1", cpus: 4, gpus: 2, objectStoreBytes: 1 << 30)
        for argument in ["--head", "--block", "--port=20400", "--dashboard-host=10.0.0.1", "--dashboard-port=20401", "--num-cpus=4",
            "--num-gpus=2", "--node-ip-address=10.0.0.1", "--temp-dir=/tmp/sd-1-n1", "--object-store-memory=1073741824",
            "--min-worker-port=20411", "--max-worker-port=20599", "--dashboard-agent-listen-port=20405"]
        {
            #expect(head.contains(argument), "\(argument)")
        }
        let worker = BootstrapPlan.rayStart(
            ray: "ray", role: .worker, nodeAddress: "10.0.0.2", headAddress: "10.0.0.1:20400", dashboardHost: nil, ports: ports,
            tempDirectory: "/tmp/sd-1-n2", cpus: nil, gpus: 0, objectStoreBytes: nil)
        #expect(worker.contains("--address=10.0.0.1:20400") && !worker.contains("--head") && worker.contains("--num-gpus=0"))
    }

    @Test func theProcessesBootstrapNeverUsesAreNotStartedUnlessAsked() throws {
        let ports = RayPorts(base: 20_400)
        func head(all: Bool) -> [String] {
            BootstrapPlan.rayStart(
                ray: "ray", role: .head, nodeAddress: "10.0.0.1", headAddress: nil, dashboardHost: nil, ports: ports, tempDirectory: "/t", cpus: 1,
                gpus: 0, objectStoreBytes: nil, allRayProcesses: all)
        }
        #expect(head(all: false).contains("--no-monitor") && !head(all: true).contains("--no-monitor"))
        #expect(BootstrapPlan.rayEnvironment(ports: ports, drainTimeoutSeconds: 5, metrics: false)["RAY_prestart_worker_first_driver"] == "0")
        #expect(BootstrapPlan.rayEnvironment(ports: ports, drainTimeoutSeconds: 5, metrics: false, allRayProcesses: true)["RAY_prestart_worker_first_driver"] == nil)
        let asked = try plan { $0.allRayProcesses = true }
        #expect(asked.headStep.arguments.contains("--all-ray-processes"))
        let parsed = try NodeAgentSettings(parsing: Array(asked.headStep.arguments.drop { $0 != "_node" }.dropFirst()))
        #expect(parsed.allRayProcesses && parsed.role == .head)
        #expect(try !NodeAgentSettings(parsing: Array(plan().headStep.arguments.drop { $0 != "_node" }.dropFirst())).allRayProcesses)
    }

    @Test func everyPortRayOpensIsInTheJobsBlockAndMetricsExportIsOffUnlessAsked() throws {
        let ports = RayPorts(base: 20_400)
        let environment = BootstrapPlan.rayEnvironment(ports: ports, drainTimeoutSeconds: 5, metrics: false)
        // Ray's defaults (44217, 44227) are fixed: two jobs on one head would collide there.
        #expect(environment["AUTOSCALER_METRIC_PORT"] == "20409" && environment["DASHBOARD_METRIC_PORT"] == "20410")
        #expect(ports.headPorts.contains(20_409) && ports.headPorts.contains(20_410))
        #expect(environment["RAY_AUTH_MODE"] == "token")
        #expect(environment["RAY_enable_metrics_collection"] == "0")
        #expect(environment["RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"] == "5")
        #expect(BootstrapPlan.rayEnvironment(ports: ports, drainTimeoutSeconds: 5, metrics: true)["RAY_enable_metrics_collection"] == nil)
        #expect(try plan { $0.metrics = true }.headStep.arguments.contains("--metrics"))
        #expect(try !plan().headStep.arguments.contains("--metrics"))
    }

    @Test func longTempRootsAreRefused() {
        expectFailure(.usage, containing: "Unix sockets need it at most 41") {
            _ = try plan { $0.tempRoot = "/scratch/a/rather/long/node/local/folder" }
        }
    }

    @Test func byteSizes() throws {
        #expect(try ByteSize.parse("80M", option: "x") == 80 << 20)
        #expect(try ByteSize.parse("2GiB", option: "x") == 2 << 30)
        #expect(try ByteSize.parse("1000", option: "x") == 1000)
        expectFailure(.usage, containing: "invalid size") { _ = try ByteSize.parse("lots", option: "x") }
    }

    @Test func dryRunPrintsThePlanWithoutStartingAnything() throws {
        var environment = ProcessInfo.processInfo.environment
        environment.merge(["SLURM_JOB_ID": "77", "SLURM_JOB_NODELIST": "n[1-2]", "SLURM_JOB_NUM_NODES": "2", "SLURMD_NODENAME": "n1",
            "SLURM_GPUS_ON_NODE": "1", "SLURM_JOB_CPUS_PER_NODE": "2(x2)"]) { $1 }
        let result = try runProcess(PackagePaths.binary, ["bootstrap", "--dry-run", "--interface", "lo", "--", "python", "x.py"], environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("job 77: 2 nodes, head n1 at 127.0.0.1"))
        #expect(result.stdout.contains("worker step: srun --overlap"))
        let outside = try runProcess(PackagePaths.binary, ["bootstrap", "--dry-run", "--", "x"], environment: ["PATH": "/usr/bin:/bin"])
        #expect(outside.status == 3)
        #expect(outside.stderr.contains("not inside a Slurm allocation"))
        let empty = try runProcess(PackagePaths.binary, ["bootstrap", "--dry-run"], environment: environment)
        #expect(empty.status == 2)
    }
}

@Suite struct PortProbeTests {
    @Test func bindAndConnectOnLoopback() throws {
        let server = socket(AF_INET, PortProbe.streamSocket, 0)
        defer { close(server) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(bound == 0)
        listen(server, 1)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(server, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        #expect(!PortProbe.isFree(port, on: "127.0.0.1"), "a listening port is taken")
        #expect(PortProbe.accepts(port, on: "127.0.0.1"))
        close(server)
        #expect(PortProbe.isFree(port, on: "127.0.0.1"))
        #expect(!PortProbe.accepts(port, on: "127.0.0.1"))
        #expect(!PortProbe.isFree(80, on: "not-an-address"))
    }
}

@Suite struct ExampleScriptTests {
    /// The GPU-only example cannot run here: it must at least compile, and bootstrap must plan it.
    @Test func vllmExampleCompilesAndItsPlanWarnsAboutTensorParallelism() throws {
        let script = PackagePaths.root.appending(path: "examples/vllm-tp/pipeline.py").path
        let compiled = try runProcess("/usr/bin/env", ["python3", "-c", "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')", script])
        #expect(compiled.status == 0, "\(compiled.stderr)")
        var environment = ProcessInfo.processInfo.environment
        environment.merge(["SLURM_JOB_ID": "78", "SLURM_JOB_NODELIST": "n[1-2]", "SLURM_JOB_NUM_NODES": "2", "SLURMD_NODENAME": "n1",
            "SLURM_GPUS_ON_NODE": "2", "SLURM_JOB_CPUS_PER_NODE": "8(x2)"]) { $1 }
        let plan = try runProcess(
            PackagePaths.binary, ["bootstrap", "--dry-run", "--interface", "lo", "--tensor-parallel-size", "4", "--", "python", "-u", script, "m", "p", "o", "4"],
            environment: environment)
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stderr.contains("tensor-parallel size 4 exceeds the 2 GPUs per node"))
        #expect(plan.stdout.contains("2 GPUs"))
    }
}

@Suite struct BootstrapPlannerTests {
    let allocation = try! Allocation(
        environment: ["SLURM_JOB_ID": "4711", "SLURM_JOB_NODELIST": "n[1-3]", "SLURM_JOB_NUM_NODES": "3", "SLURM_JOB_CPUS_PER_NODE": "4(x3)",
            "SLURM_GPUS_ON_NODE": "1", "SLURMD_NODENAME": "n1", "SLURM_SUBMIT_DIR": "/home/u/run"])
    let directory = FakeNodeDirectory(records: nil, dns: ["n1": ["10.0.0.1"], "n2": ["10.0.0.2"], "n3": ["10.0.0.3"]])

    struct HeldPorts: PortAvailability {
        var held: Set<Int>
        func isFree(_ port: Int, on address: String) -> Bool { !held.contains(port) }
    }

    struct FixedRay: RayInstallation {
        var version: RayVersion?
        func version(ofRay ray: String) -> RayVersion? { version }
    }

    func setup(held: Set<Int> = [], version: RayVersion? = RayVersion("2.60.0"), options configure: (inout BootstrapOptions) -> Void = { _ in }, request: JobRequest = JobRequest(entrypoint: ["python", "p.py"]))
        throws -> BootstrapSetup
    {
        var options = BootstrapOptions(launcher: "/opt/sd")
        configure(&options)
        return try BootstrapPlanner(directory: directory, ports: HeldPorts(held: held), installation: FixedRay(version: version))
            .plan(allocation: allocation, options: options, request: request, currentDirectory: "/work")
    }

    @Test func onlyAMeasuredRayRunsWithoutTheProcessesBootstrapNeverUses() throws {
        #expect(try !setup(version: RayVersion("2.60.0")).plan.headStep.arguments.contains("--all-ray-processes"))
        #expect(try !setup(version: RayVersion("2.52.1")).plan.headStep.arguments.contains("--all-ray-processes"))
        #expect(try setup(version: RayVersion("2.44.1"), options: { $0.insecureNoAuth = true }).plan.headStep.arguments.contains("--all-ray-processes"))
        #expect(try setup(options: { $0.allRayProcesses = true }).plan.headStep.arguments.contains("--all-ray-processes"))
    }

    @Test func thePlannerDecidesRolesAddressesFolderAndPorts() throws {
        let setup = try setup()
        #expect(setup.plan.head == "n1" && setup.plan.headAddress == "10.0.0.1")
        #expect(setup.plan.expectedAddresses == ["n1": "10.0.0.1", "n2": "10.0.0.2", "n3": "10.0.0.3"])
        #expect(setup.plan.jobFolder == "/home/u/run/slurm-distil-logs/4711", "the job folder is under the submit folder")
        #expect(setup.plan.ports == RayPorts.block(jobID: "4711"))
        #expect(setup.job.submission.metadata == ["slurm_job_id": "4711"])
        #expect(setup.warnings.isEmpty && setup.notes.isEmpty)
    }

    @Test func aTakenPortMovesTheJobToTheNextFreeBlockAndSaysSo() throws {
        let own = RayPorts.block(jobID: "4711")
        let setup = try setup(held: [own.dashboard])
        #expect(setup.plan.ports == RayPorts.block(jobID: "4711", shift: 1))
        #expect(setup.notes == ["port \(own.dashboard) on n1 is in use; trying Ray ports \(setup.plan.ports.base)-\(setup.plan.ports.maxWorker)"])
        let everyBlock = Set((0..<RayPorts.blockCount).map { RayPorts.block(jobID: "4711", shift: $0).gcs })
        expectFailure(.environment, containing: "no free block of Ray ports on n1") { _ = try self.setup(held: everyBlock) }
    }

    @Test func warningsComeFromThePlanner() throws {
        let setup = try setup { $0.tensorParallelSize = 4; $0.dashboardHost = "0.0.0.0" }
        #expect(setup.warnings.count == 2)
        #expect(setup.warnings[0].contains("tensor-parallel size 4 exceeds the 1 GPUs per node"))
        #expect(setup.warnings[1].contains("listen on all interfaces"))
    }

    /// Found before any srun: a working_dir over Ray's limit must not cost a bring-up.
    @Test func anOversizedWorkingDirFailsBeforeAnythingStarts() throws {
        let folder = try temporaryDirectory()
        let big = folder.appending(path: "weights.bin").path
        #expect(FileManager.default.createFile(atPath: big, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: big))
        try handle.truncate(atOffset: 101 << 20)
        try handle.close()
        var request = JobRequest(entrypoint: ["python", "p.py"])
        request.workingDir = folder.path
        expectFailure(.usage, containing: "over Ray's limit") { _ = try self.setup(request: request) }
    }

    @Test func agentArgumentsRoundTrip() throws {
        let settings = NodeAgentSettings(
            role: .worker, jobID: "4711", ray: "/venv/bin/ray", tempRoot: "/scratch", ports: RayPorts(base: 20_400), policy: .interface("ib0"),
            headAddress: "[fd00::1]:20400", dashboardHost: "10.0.0.1", gpus: 4, objectStoreBytes: 1 << 30, drainTimeoutSeconds: 9, metrics: true)
        #expect(try NodeAgentSettings(parsing: settings.arguments) == settings)
        let plain = NodeAgentSettings(role: .head, jobID: "7", ports: RayPorts(base: 20_000))
        #expect(try NodeAgentSettings(parsing: plain.arguments) == plain)
        let plan = try setup().plan
        let headArguments = Array(plan.headStep.arguments.drop { $0 != "_node" }.dropFirst())
        let parsed = try NodeAgentSettings(parsing: headArguments)
        #expect(parsed.role == .head && parsed.dashboardHost == "10.0.0.1" && parsed.ports == plan.ports && parsed.gpus == 1)
        expectFailure(.usage, containing: "unexpected argument '--bogus'") { _ = try NodeAgentSettings(parsing: ["--bogus"]) }
        expectFailure(.usage, containing: "--job-id is missing") { _ = try NodeAgentSettings(parsing: ["--role", "head", "--port-base", "1"]) }
    }
}

@Suite struct RayVersionTests {
    let planner = BootstrapPlannerTests()

    @Test func aRayWithoutTokenAuthenticationIsRefusedUnlessInsecureIsAsked() throws {
        expectFailure(.environment, containing: "Ray 2.44.1 (ray) has no token authentication, which came with Ray 2.52") {
            _ = try planner.setup(version: RayVersion("2.44.1"))
        }
        let insecure = try planner.setup(version: RayVersion("2.44.1")) { $0.insecureNoAuth = true }
        #expect(insecure.plan.authentication == .none && insecure.plan.dashboardHost == "127.0.0.1")
        #expect(insecure.plan.dashboardURL.hasPrefix("http://127.0.0.1:"))
        #expect(insecure.plan.headStep.arguments.contains("--no-auth") && insecure.plan.workerStep!.arguments.contains("--no-auth"))
        #expect(insecure.warnings.contains { $0.contains("Ray 2.44.1 has no token authentication; --insecure-no-auth") })
        #expect(insecure.plan.description.contains("NO authentication"))
        #expect(BootstrapPlan.rayEnvironment(ports: insecure.plan.ports, drainTimeoutSeconds: 5, metrics: false, authentication: .none)["RAY_AUTH_MODE"] == nil)
        expectFailure(.usage, containing: "--dashboard-host 0.0.0.0 with --insecure-no-auth") {
            _ = try planner.setup(version: RayVersion("2.44.1")) { $0.insecureNoAuth = true; $0.dashboardHost = "0.0.0.0" }
        }
        for version in ["2.52.1", "2.60.0", "3.0.0"] {
            let setup = try planner.setup(version: RayVersion(version))
            #expect(setup.plan.authentication == .token, "\(version)")
        }
        let unknown = try planner.setup(version: nil)
        #expect(unknown.plan.authentication == .token, "a version that cannot be read runs with a token; the dashboard is asked later")
    }

    @Test func theVersionIsReadFromTheVenvsPackageFolder() throws {
        let venv = try temporaryDirectory()
        let bin = venv.appending(path: "bin")
        let packages = venv.appending(path: "lib/python3.11/site-packages")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: packages.appending(path: "ray-2.44.1.dist-info"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: packages.appending(path: "ray_cpp-2.44.1.dist-info"), withIntermediateDirectories: true)
        let ray = bin.appending(path: "ray").path
        #expect(FileManager.default.createFile(atPath: ray, contents: Data("#!\(bin.path)/python3\nimport sys\n".utf8), attributes: [.posixPermissions: 0o755]))
        let installed = InstalledRay(environment: ["PATH": "/nonexistent:\(bin.path)"])
        #expect(installed.version(ofRay: "ray") == RayVersion(major: 2, minor: 44, patch: 1))
        #expect(installed.version(ofRay: ray) == RayVersion("2.44.1"))
        // An upgrade that broke off leaves two: not told apart this way.
        try FileManager.default.createDirectory(at: packages.appending(path: "ray-2.60.0.dist-info"), withIntermediateDirectories: true)
        #expect(installed.version(ofRay: "ray") == nil)
        #expect(InstalledRay(environment: ["PATH": "/nonexistent"]).version(ofRay: "ray") == nil)
        #expect(InstalledRay.version(ofDistInfo: "ray-2.52.1.dist-info") == RayVersion("2.52.1"))
        #expect(RayVersion("2.52.0")!.hasTokenAuthentication && !RayVersion("2.51.9")!.hasTokenAuthentication)
    }
}
