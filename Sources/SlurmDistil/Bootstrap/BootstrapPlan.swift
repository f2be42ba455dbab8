/// Ray's ports for one job: a block below the ephemeral range, derived from the job id so that two
/// jobs sharing a node do not collide, with worker ports inside the block.
public struct RayPorts: Sendable, Equatable, Codable {
    public static let firstBlock = 20_000
    public static let blockSize = 200
    /// Blocks fit below 32,000, under Linux's default ephemeral range (32,768 and up).
    public static let blockCount = 60

    public var base: Int
    public var gcs: Int { base }
    public var dashboard: Int { base + 1 }
    public var clientServer: Int { base + 2 }
    public var nodeManager: Int { base + 3 }
    public var objectManager: Int { base + 4 }
    public var dashboardAgentListen: Int { base + 5 }
    public var dashboardAgentGRPC: Int { base + 6 }
    public var metricsExport: Int { base + 7 }
    public var runtimeEnvAgent: Int { base + 8 }
    /// Ray's own fixed defaults (44217, 44227) would collide between two jobs on one head node.
    public var autoscalerMetrics: Int { base + 9 }
    public var dashboardMetrics: Int { base + 10 }
    public var minWorker: Int { base + 11 }
    public var maxWorker: Int { base + Self.blockSize - 1 }

    public init(base: Int) { self.base = base }

    /// The block for `jobID`, or the `shift`-th one after it.
    public static func block(jobID: String, shift: Int = 0) -> RayPorts {
        let number = Int(jobID.prefix { $0.isNumber }) ?? jobID.unicodeScalars.reduce(0) { ($0 &* 31 &+ Int($1.value)) & 0xFFFF }
        return RayPorts(base: firstBlock + ((number + shift) % blockCount) * blockSize)
    }

    /// The ports a head listens on, to check before starting.
    public var headPorts: [Int] {
        [gcs, dashboard, clientServer, nodeManager, objectManager, dashboardAgentListen, dashboardAgentGRPC, metricsExport, runtimeEnvAgent,
         autoscalerMetrics, dashboardMetrics]
    }

    /// Ports that only environment variables set.
    public var environment: [String: String] {
        ["AUTOSCALER_METRIC_PORT": String(autoscalerMetrics), "DASHBOARD_METRIC_PORT": String(dashboardMetrics)]
    }

    public var arguments: [String] {
        [
            "--node-manager-port=\(nodeManager)", "--object-manager-port=\(objectManager)",
            "--dashboard-agent-listen-port=\(dashboardAgentListen)", "--dashboard-agent-grpc-port=\(dashboardAgentGRPC)",
            "--metrics-export-port=\(metricsExport)", "--runtime-env-agent-port=\(runtimeEnvAgent)",
            "--min-worker-port=\(minWorker)", "--max-worker-port=\(maxWorker)",
        ]
    }
}

/// Settings of a bootstrap run that are not in the allocation.
public struct BootstrapOptions: Sendable, Equatable {
    public var policy: AddressPolicy = .auto
    public var headNode: String?
    public var ray = "ray"
    public var launcher: String
    public var tempRoot = "/tmp"
    public var objectStoreBytes: Int?
    public var drainTimeoutSeconds = 5
    public var dashboardHost: String?
    /// Ray's per-node metrics exporter listens on every interface without authentication: off unless asked.
    public var metrics = false
    public var jobFolder: String

    public init(launcher: String, jobFolder: String) {
        self.launcher = launcher
        self.jobFolder = jobFolder
    }
}

/// Everything bootstrap will do, computed before anything starts; `--dry-run` prints it.
public struct BootstrapPlan: Sendable, Equatable {
    public var jobID: String
    public var nodes: [String]
    public var head: String
    public var workers: [String]
    public var headAddress: String
    public var dashboardHost: String
    public var ports: RayPorts
    public var cpusPerNode: [Int]
    public var gpusPerNode: Int
    /// Each node's expected address where it is known in advance (not with --interface, where every
    /// node reads its own): lets progress name the nodes that are still missing.
    public var expectedAddresses: [String: String] = [:]
    public var jobFolder: String
    public var tempRoot: String
    public var tokenPath: String
    public var headStep: [String]
    public var workerStep: [String]?

    public var dashboardURL: String { "http://\(Self.hostForURL(headAddress)):\(ports.dashboard)" }
    public var gcsAddress: String { "\(Self.hostForURL(headAddress)):\(ports.gcs)" }

    static func hostForURL(_ address: String) -> String { address.contains(":") ? "[\(address)]" : address }

    /// The job's private folder on a node (0700). Ray makes its own temp dir world-writable, so Ray's
    /// temp dir lives inside this one (`rayTempDirectory`), which keeps other users out.
    public static func tempDirectory(root: String, jobID: String, node: String) -> String {
        "\(root)/sd-\(jobID)-\(node)"
    }

    /// Ray's --temp-dir, short: Unix socket paths below it must stay under 107 bytes.
    public static func rayTempDirectory(root: String, jobID: String, node: String) -> String {
        tempDirectory(root: root, jobID: jobID, node: node) + "/r"
    }

    public static let maximumTempDirectoryLength = 41

    public static func make(
        allocation: Allocation, options: BootstrapOptions, headAddress: String, ports: RayPorts,
        expectedAddresses: [String: String] = [:]
    ) throws(Failure) -> BootstrapPlan {
        let head = try AddressPlanner.head(of: allocation, requested: options.headNode)
        let workers = allocation.nodes.filter { $0 != head }
        let longest = allocation.nodes.map { rayTempDirectory(root: options.tempRoot, jobID: allocation.jobID, node: $0) }.max { $0.count < $1.count } ?? ""
        guard longest.count <= maximumTempDirectoryLength else {
            throw Failure.usage(
                "Ray's temp dir \(longest) would be \(longest.count) characters; Ray's Unix sockets need it at most \(maximumTempDirectoryLength)",
                hint: "give a shorter --temp-root (default /tmp)")
        }
        let dashboardHost = options.dashboardHost ?? headAddress
        let tokenPath = options.jobFolder + "/token"
        var nodeArguments = [
            "--job-id", allocation.jobID, "--ray", options.ray, "--temp-root", options.tempRoot, "--port-base", String(ports.base),
            "--address-from", addressFromArgument(options.policy), "--drain-timeout", String(options.drainTimeoutSeconds),
        ]
        if case .interface(let name) = options.policy { nodeArguments += ["--interface", name] }
        if let bytes = options.objectStoreBytes { nodeArguments += ["--object-store-memory", String(bytes)] }
        if options.metrics { nodeArguments += ["--metrics"] }
        nodeArguments += ["--num-gpus", String(allocation.gpusPerNode)]
        // --kill-on-bad-exit: one node's Ray failing ends its step, which bootstrap sees at once.
        var common = ["srun", "--overlap", "--ntasks-per-node=1", "--kill-on-bad-exit=1", "--output=\(options.jobFolder)/ray-%N.log"]
        // Each step asks for its nodes' GPUs itself: where devices are constrained, a step without them
        // cannot open a GPU, and a job's `--gpus=N` (inherited as SLURM_GPUS) does not fit a smaller step.
        if allocation.gpusPerNode > 0 { common.append("--gpus-per-node=\(allocation.gpusPerNode)") }
        let headStep = common + ["--nodes=1", "--ntasks=1", "--nodelist=\(head)", options.launcher, "_node", "--role", "head", "--dashboard-host", dashboardHost] + nodeArguments
        var workerStep: [String]?
        if !workers.isEmpty {
            workerStep = common + ["--nodes=\(workers.count)", "--ntasks=\(workers.count)", "--exclude=\(head)", options.launcher, "_node", "--role", "worker", "--head-address", "\(hostForURL(headAddress)):\(ports.gcs)"] + nodeArguments
        }
        return BootstrapPlan(
            jobID: allocation.jobID, nodes: allocation.nodes, head: head, workers: workers, headAddress: headAddress,
            dashboardHost: dashboardHost, ports: ports, cpusPerNode: allocation.cpusPerNode, gpusPerNode: allocation.gpusPerNode,
            expectedAddresses: expectedAddresses, jobFolder: options.jobFolder, tempRoot: options.tempRoot, tokenPath: tokenPath, headStep: headStep, workerStep: workerStep)
    }

    static func addressFromArgument(_ policy: AddressPolicy) -> String {
        switch policy {
        case .auto: "auto"
        case .slurm: "slurm"
        case .dns: "dns"
        case .interface: "interface"
        }
    }

    /// `ray start` for one node, as the node agent runs it.
    public static func rayStart(
        ray: String, role: HostEntry.Role, nodeAddress: String, headAddress: String?, dashboardHost: String?, ports: RayPorts,
        tempDirectory: String, cpus: Int?, gpus: Int, objectStoreBytes: Int?
    ) -> [String] {
        var command = [ray, "start", "--block", "--disable-usage-stats", "--node-ip-address=\(nodeAddress)", "--temp-dir=\(tempDirectory)"]
        if role == .head {
            command += [
                "--head", "--port=\(ports.gcs)", "--dashboard-host=\(dashboardHost ?? nodeAddress)", "--dashboard-port=\(ports.dashboard)",
                "--ray-client-server-port=\(ports.clientServer)", "--include-dashboard=true",
            ]
        } else {
            command += ["--address=\(headAddress ?? "")"]
        }
        command += ports.arguments
        if let cpus { command += ["--num-cpus=\(cpus)"] }
        command += ["--num-gpus=\(gpus)"]
        if let objectStoreBytes { command += ["--object-store-memory=\(objectStoreBytes)"] }
        return command
    }

    /// The environment bootstrap's srun steps start from: the job's own, less what srun would read as
    /// the step's request. `--gpus=N` for the job sets SLURM_GPUS, and a step of fewer nodes that inherits
    /// it is refused with "Invalid generic resource (gres) specification".
    public static func stepEnvironment(_ environment: [String: String]) -> [String: String] {
        environment.filter { !["SLURM_GPUS", "SLURM_GPUS_PER_TASK", "SLURM_GPUS_PER_SOCKET"].contains($0.key) }
    }

    /// The environment `ray start` gets on every node, besides the token.
    public static func rayEnvironment(ports: RayPorts, drainTimeoutSeconds: Int, metrics: Bool) -> [String: String] {
        var environment = ports.environment
        environment["RAY_AUTH_MODE"] = "token"
        environment["RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"] = String(drainTimeoutSeconds)
        environment["RAY_USAGE_STATS_ENABLED"] = "0"
        if !metrics { environment["RAY_enable_metrics_collection"] = "0" }
        return environment
    }

    /// The plan as `--dry-run` prints it.
    public var description: String {
        var lines = [
            "job \(jobID): \(nodes.count) nodes, head \(head) at \(headAddress), workers \(workers.isEmpty ? "none" : HostList.compact(workers))",
            "dashboard \(dashboardURL) (bound to \(dashboardHost)), GCS \(gcsAddress), ports \(ports.base)-\(ports.maxWorker)",
            "per node: \(cpusPerNode.first.map { "\($0) CPUs" } ?? "CPUs as Ray detects"), \(gpusPerNode) GPUs; private folder per node \(Self.tempDirectory(root: tempRoot, jobID: jobID, node: "NODE")) (0700) holding Ray's temp dir",
            "token \(tokenPath) (0600), RAY_AUTH_MODE=token on every node",
            "head step:   " + ShellQuoting.join(headStep),
        ]
        if let workerStep { lines.append("worker step: " + ShellQuoting.join(workerStep)) }
        return lines.joined(separator: "\n") + "\n"
    }
}
