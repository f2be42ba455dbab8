import ArgumentParser
import Foundation
import SlurmDistil

struct Bootstrap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inside an allocation: start Ray on every node, run the pipeline as a Ray job, tear down.",
        discussion: """
            Normally called by the script `slurm-distil gen-sbatch` writes. The pipeline's status becomes the batch
            job's: 0 if it SUCCEEDED, its own exit code if it failed with one, \(JobExit.failedWithoutExitCode) if it failed without one,
            \(JobExit.stopped) if it was stopped, \(JobExit.stalled) after --stall-timeout, \(JobExit.maxRuntime) after --max-runtime,
            \(JobExit.terminated) after SIGTERM (scancel, or Slurm's signal before the time limit).
            Output, the token (0600) and status.json are kept in the job folder.

            Examples:
              slurm-distil bootstrap -- python -u pipeline.py
              slurm-distil bootstrap --interface ib0 --working-dir . --runtime-env runtime_env.yaml -- python -u pipeline.py
              slurm-distil bootstrap --dry-run -- python -u pipeline.py
            """
    )

    @OptionGroup var address: AddressOptions
    @Option(help: "Folder to upload as the pipeline's working_dir.")
    var workingDir: String?
    @Option(help: "runtime_env YAML for the pipeline; ${VAR} comes from the environment and is never printed.")
    var runtimeEnv: String?
    @Option(help: "The ray executable on every node (default: ray on PATH, e.g. from --venv).")
    var ray = "ray"
    @Option(help: "Node-local folder for Ray's per-job temp dirs (default /tmp).")
    var tempRoot = "/tmp"
    @Option(help: "Object store size per node, e.g. 2G or 500M (default: Ray's choice).")
    var objectStoreMemory: String?
    @Option(help: "Seconds Ray drains a node on shutdown (RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S).")
    var drainTimeout = 5
    @Option(help: "Address the dashboard binds to (default: the head's cluster address; 0.0.0.0 exposes it).")
    var dashboardHost: String?
    @Option(help: "Folder for output, token and status.json (default SUBMIT_DIR/slurm-distil-logs/JOBID).")
    var jobFolder: String?
    @Option(help: "Stop the pipeline when it prints nothing for this long (e.g. 30m), after saving its driver's stack.")
    var stallTimeout: String?
    @Option(help: "Stop the pipeline when it runs longer than this (e.g. 6h).")
    var maxRuntime: String?
    @Option(help: "How long Ray may take to come up on every node before bootstrap gives up (default 5m).")
    var readyTimeout = "5m"
    @Option(help: "The pipeline's tensor-parallel size: warns when it exceeds the GPUs per node.")
    var tensorParallelSize: Int?
    @Option(help: "A folder every node must see as the same storage; checked before the pipeline starts (repeatable).")
    var requireShared: [String] = []
    @Flag(help: "Keep Ray's per-node Prometheus metrics exporter (off by default: it listens on every interface, without auth).")
    var metrics = false
    @Flag(help: "Print the plan (roles, addresses, ports, commands) and exit.")
    var dryRun = false
    @Argument(parsing: .postTerminator, help: "The pipeline command, after '--'.")
    var entrypoint: [String] = []

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard !entrypoint.isEmpty else {
            throw Failure.usage("no pipeline command after '--'", hint: "slurm-distil bootstrap -- python -u pipeline.py")
        }
        // Options first: a typo must not wait for an allocation to be found out.
        let stallSeconds = try stallTimeout.map { (text) throws(Failure) in Double(try DurationText.seconds(parsing: text, option: "--stall-timeout")) }
        let maxRuntimeSeconds = try maxRuntime.map { (text) throws(Failure) in Double(try DurationText.seconds(parsing: text, option: "--max-runtime")) }
        let readySeconds = Double(try DurationText.seconds(parsing: readyTimeout, option: "--ready-timeout"))
        let objectStoreBytes = try objectStoreMemory.map { (text) throws(Failure) in try ByteSize.parse(text, option: "--object-store-memory") }
        let allocation = try Allocation(environment: environment, hostname: ProcessInfo.processInfo.hostName)
        let policy = try address.policy()
        let directory = SystemNodeDirectory(environment: environment)
        let head = try AddressPlanner.head(of: allocation, requested: address.headNode)
        let headAddress: String
        var expectedAddresses: [String: String] = [:]
        if case .interface(let name) = policy {
            guard allocation.thisNode == head else {
                throw Failure.usage("with --interface, bootstrap must run on the head node \(head) (it runs on \(allocation.thisNode ?? "an unknown node"))", hint: "leave out --head-node, so the head is the batch script's node")
            }
            headAddress = try AddressPlanner(directory: directory).localAddress(interface: name, node: head)
        } else {
            let hosts = try AddressPlanner(directory: directory).plan(allocation, policy: policy, headNode: head).hosts
            for host in hosts { expectedAddresses[host.name] = host.address }
            headAddress = expectedAddresses[head] ?? ""
        }
        if let tensorParallelSize, tensorParallelSize > allocation.gpusPerNode {
            StandardError.write(
                "slurm-distil: warning: tensor-parallel size \(tensorParallelSize) exceeds the \(allocation.gpusPerNode) GPUs per node (\(allocation.gpuSource)); a tensor-parallel group must fit on one node's GPUs\n")
        }
        if let dashboardHost, dashboardHost == "0.0.0.0" || dashboardHost == "::" {
            StandardError.write("slurm-distil: warning: the dashboard will listen on all interfaces (\(dashboardHost)); anyone who reaches it still needs the job's token\n")
        }
        let submitDirectory = allocation.submitDirectory ?? LocalFileSystem().currentDirectory
        var options = BootstrapOptions(
            launcher: LocalFileSystem().executablePath,
            jobFolder: jobFolder ?? "\(submitDirectory)/slurm-distil-logs/\(allocation.jobID)")
        options.policy = policy
        options.headNode = address.headNode
        options.ray = ray
        options.tempRoot = tempRoot
        options.objectStoreBytes = objectStoreBytes
        options.drainTimeoutSeconds = drainTimeout
        options.dashboardHost = dashboardHost
        options.metrics = metrics
        var ports = RayPorts.block(jobID: allocation.jobID)
        if allocation.thisNode == head {
            // Another job on this node may hold the block: take the next free one.
            // Ray's gRPC servers bind every interface: a port held on loopback only is taken for them too.
            let wildcard = headAddress.contains(":") ? "::" : "0.0.0.0"
            func taken(_ ports: RayPorts) -> Int? {
                ports.headPorts.first { !PortProbe.isFree($0, on: headAddress) || !PortProbe.isFree($0, on: wildcard) }
            }
            var shift = 0
            while shift < RayPorts.blockCount, let port = taken(ports) {
                shift += 1
                let next = RayPorts.block(jobID: allocation.jobID, shift: shift)
                StandardError.write("slurm-distil: port \(port) on \(head) is in use; trying Ray ports \(next.base)-\(next.maxWorker)\n")
                ports = next
            }
            guard shift < RayPorts.blockCount else {
                throw Failure.environment("no free block of Ray ports on \(head) (\(RayPorts.firstBlock)-32000)", hint: "another job or service holds them; check with `ss -ltn`")
            }
        }
        let plan = try BootstrapPlan.make(
            allocation: allocation, options: options, headAddress: headAddress, ports: ports, expectedAddresses: expectedAddresses)
        if dryRun {
            print(plan.description, terminator: "")
            return
        }
        var request = JobRequest(entrypoint: entrypoint)
        if let runtimeEnv {
            request.runtimeEnv = try RuntimeEnvironment.parse(yaml: LocalFileSystem().read(runtimeEnv), path: runtimeEnv, environment: environment)
        }
        request.workingDir = workingDir
        let bootstrapper = Bootstrapper(plan: plan, request: request, environment: environment, currentDirectory: LocalFileSystem().currentDirectory)
        bootstrapper.requireShared = requireShared
        bootstrapper.stallTimeout = stallSeconds
        bootstrapper.maxRuntime = maxRuntimeSeconds
        bootstrapper.readyTimeout = readySeconds
        let status = await bootstrapper.run()
        throw ExitCode(status)
    }
}

/// The per-node agent bootstrap starts through srun; not for direct use.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "_node", abstract: "Internal: run Ray on this node for bootstrap.", shouldDisplay: false)

    @Option var role: String
    @Option var jobId: String
    @Option var ray = "ray"
    @Option var tempRoot = "/tmp"
    @Option var portBase: Int
    @Option var addressFrom = "auto"
    @Option var interface: String?
    @Option var drainTimeout = 5
    @Option var objectStoreMemory: Int?
    @Option var numGpus = 0
    @Option var dashboardHost: String?
    @Option var headAddress: String?
    @Flag var metrics = false

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let role = HostEntry.Role(rawValue: role) else { throw Failure.usage("--role must be head or worker") }
        let policy = try AddressOptions.policy(addressFrom: addressFrom, interface: interface)
        var settings = NodeAgent.Settings(
            role: role, jobID: jobId, ray: ray, tempRoot: tempRoot, ports: RayPorts(base: portBase), policy: policy, gpus: numGpus,
            drainTimeoutSeconds: drainTimeout)
        settings.headAddress = headAddress
        settings.dashboardHost = dashboardHost
        settings.objectStoreBytes = objectStoreMemory
        settings.metrics = metrics
        let status = try NodeAgent(settings: settings, environment: environment, directory: SystemNodeDirectory(environment: environment)).run()
        throw ExitCode(status)
    }
}
