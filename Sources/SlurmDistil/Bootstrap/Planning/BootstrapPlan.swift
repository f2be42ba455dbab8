/// Settings of a bootstrap run that are not in the allocation: bootstrap's flags.
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
    /// Also the Ray processes bootstrap never uses: the autoscaler monitor (a fixed allocation does not
    /// scale) and the idle workers the raylet prestarts for its first driver (on the head, the dashboard
    /// agent at the first Jobs request, which waits for them). Off: less CPU while Ray comes up.
    public var allRayProcesses = false
    /// nil: `SUBMIT_DIR/slurm-distil-logs/JOBID`.
    public var jobFolder: String?
    public var tensorParallelSize: Int?
    /// Run a Ray without token authentication (older than 2.52), its dashboard on the head's loopback.
    public var insecureNoAuth = false

    public init(launcher: String, jobFolder: String? = nil) {
        self.launcher = launcher
        self.jobFolder = jobFolder
    }
}

/// How the job's Ray cluster checks who talks to it.
public enum RayAuthentication: String, Sendable, Equatable, Codable {
    /// RAY_AUTH_MODE=token with a fresh per-job token on every node and in every request.
    case token
    /// None: only with --insecure-no-auth, for a Ray older than 2.52.
    case none
}

/// One srun step: its name in messages, its nodes, its command line.
public struct StepCommand: Sendable, Equatable {
    public var name: String
    public var nodes: [String]
    public var arguments: [String]
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
    public var headStep: StepCommand
    public var workerStep: StepCommand?
    public var authentication: RayAuthentication = .token
    /// The venv's Ray, where it could be read before starting.
    public var rayVersion: RayVersion?
    /// Whether the workers start as soon as the head's GCS answers (seconds before the dashboard), or
    /// only once the head's own node is registered, which Ray before 2.60 needs.
    public var workersStartEarly: Bool { rayVersion.map { $0 >= RayVersion.earlyWorkerJoin } ?? false }

    /// Where bootstrap (on the head) reaches the dashboard: the address it is bound to, unless that
    /// is every interface.
    public var dashboardURL: String {
        let host = ["0.0.0.0", "::"].contains(dashboardHost) ? headAddress : dashboardHost
        return "http://\(Self.hostForURL(host)):\(ports.dashboard)"
    }
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

    /// The plan from what the planner found out: pure.
    public static func make(
        allocation: Allocation, options: BootstrapOptions, headAddress: String, ports: RayPorts,
        expectedAddresses: [String: String] = [:], jobFolder: String? = nil, authentication: RayAuthentication = .token
    ) throws(Failure) -> BootstrapPlan {
        let head = try AddressPlanner.head(of: allocation, requested: options.headNode)
        let workers = allocation.nodes.filter { $0 != head }
        let longest = allocation.nodes.map { rayTempDirectory(root: options.tempRoot, jobID: allocation.jobID, node: $0) }.max { $0.count < $1.count } ?? ""
        guard longest.count <= maximumTempDirectoryLength else {
            throw Failure.usage(
                "Ray's temp dir \(longest) would be \(longest.count) characters; Ray's Unix sockets need it at most \(maximumTempDirectoryLength)",
                hint: "give a shorter --temp-root (default /tmp)")
        }
        guard let folder = jobFolder ?? options.jobFolder else {
            throw Failure.usage("no job folder", hint: "give --job-folder")
        }
        let dashboardHost = authentication == .none ? "127.0.0.1" : options.dashboardHost ?? headAddress
        let agent = NodeAgentSettings(
            role: .head, jobID: allocation.jobID, ray: options.ray, tempRoot: options.tempRoot, ports: ports, policy: options.policy,
            gpus: allocation.gpusPerNode, objectStoreBytes: options.objectStoreBytes, drainTimeoutSeconds: options.drainTimeoutSeconds,
            metrics: options.metrics, authentication: authentication, allRayProcesses: options.allRayProcesses)
        // --kill-on-bad-exit: one node's Ray failing ends its step, which bootstrap sees at once.
        var common = ["srun", "--overlap", "--ntasks-per-node=1", "--kill-on-bad-exit=1", "--output=\(folder)/ray-%N.log"]
        // Each step asks for its nodes' GPUs itself: where devices are constrained, a step without them
        // cannot open a GPU, and a job's `--gpus=N` (inherited as SLURM_GPUS) does not fit a smaller step.
        if allocation.gpusPerNode > 0 { common.append("--gpus-per-node=\(allocation.gpusPerNode)") }
        var headAgent = agent
        headAgent.dashboardHost = dashboardHost
        let headStep = StepCommand(
            name: "head", nodes: [head],
            arguments: common + ["--nodes=1", "--ntasks=1", "--nodelist=\(head)", options.launcher, "_node"] + headAgent.arguments)
        var workerStep: StepCommand?
        if !workers.isEmpty {
            var workerAgent = agent
            workerAgent.role = .worker
            workerAgent.headAddress = "\(hostForURL(headAddress)):\(ports.gcs)"
            workerStep = StepCommand(
                name: "workers", nodes: workers,
                arguments: common + ["--nodes=\(workers.count)", "--ntasks=\(workers.count)", "--exclude=\(head)", options.launcher, "_node"]
                    + workerAgent.arguments)
        }
        return BootstrapPlan(
            jobID: allocation.jobID, nodes: allocation.nodes, head: head, workers: workers, headAddress: headAddress,
            dashboardHost: dashboardHost, ports: ports, cpusPerNode: allocation.cpusPerNode, gpusPerNode: allocation.gpusPerNode,
            expectedAddresses: expectedAddresses, jobFolder: folder, tempRoot: options.tempRoot, tokenPath: folder + "/token",
            headStep: headStep, workerStep: workerStep, authentication: authentication)
    }

    /// A short step that runs one task on every node of the allocation (checks, stack dumps).
    public func everyNodeStep(_ command: [String]) -> [String] {
        Self.everyNodeStep(nodeCount: nodes.count, command)
    }

    /// The same for any count of nodes; `gpusPerNode` gives the step its nodes' GPUs (doctor looks at them).
    public static func everyNodeStep(nodeCount: Int, gpusPerNode: Int = 0, _ command: [String]) -> [String] {
        var step = ["srun", "--overlap", "--ntasks-per-node=1", "--nodes=\(nodeCount)", "--ntasks=\(nodeCount)"]
        if gpusPerNode > 0 { step.append("--gpus-per-node=\(gpusPerNode)") }
        return step + command
    }

    /// `ray start` for one node, as the node agent runs it.
    public static func rayStart(
        ray: String, role: HostEntry.Role, nodeAddress: String, headAddress: String?, dashboardHost: String?, ports: RayPorts,
        tempDirectory: String, cpus: Int?, gpus: Int, objectStoreBytes: Int?, allRayProcesses: Bool = false
    ) -> [String] {
        var command = [ray, "start", "--block", "--disable-usage-stats", "--node-ip-address=\(nodeAddress)", "--temp-dir=\(tempDirectory)"]
        if role == .head {
            command += [
                "--head", "--port=\(ports.gcs)", "--dashboard-host=\(dashboardHost ?? nodeAddress)", "--dashboard-port=\(ports.dashboard)",
                "--ray-client-server-port=\(ports.clientServer)", "--include-dashboard=true",
            ]
            // Hidden in `ray start --help` but kept for Ray's own Kubernetes operator (2.44 to 2.60).
            if !allRayProcesses { command.append("--no-monitor") }
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
    public static func rayEnvironment(
        ports: RayPorts, drainTimeoutSeconds: Int, metrics: Bool, authentication: RayAuthentication = .token, allRayProcesses: Bool = false
    ) -> [String: String] {
        var environment = ports.environment
        if authentication == .token { environment["RAY_AUTH_MODE"] = "token" }
        environment["RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"] = String(drainTimeoutSeconds)
        environment["RAY_USAGE_STATS_ENABLED"] = "0"
        if !metrics { environment["RAY_enable_metrics_collection"] = "0" }
        // Ray's config switch (ray_config_def.h, read as RAY_<name> by the raylet in 2.44 to 2.60).
        if !allRayProcesses { environment["RAY_prestart_worker_first_driver"] = "0" }
        return environment
    }

    /// The plan as `--dry-run` prints it.
    public var description: String {
        var lines = [
            "job \(jobID): \(nodes.count) nodes, head \(head) at \(headAddress), workers \(workers.isEmpty ? "none" : HostList.compact(workers))",
            "dashboard \(dashboardURL) (bound to \(dashboardHost)), GCS \(gcsAddress), ports \(ports.base)-\(ports.maxWorker)",
            "per node: \(cpusPerNode.first.map { "\($0) CPUs" } ?? "CPUs as Ray detects"), \(gpusPerNode) GPUs; private folder per node \(Self.tempDirectory(root: tempRoot, jobID: jobID, node: "NODE")) (0700) holding Ray's temp dir",
            authentication == .token
                ? "token \(tokenPath) (0600), RAY_AUTH_MODE=token on every node"
                : "NO authentication (--insecure-no-auth, Ray \(rayVersion?.description ?? "older than 2.52")): dashboard on the head's loopback only",
            "head step:   " + ShellQuoting.join(headStep.arguments),
        ]
        if let workerStep { lines.append("worker step: " + ShellQuoting.join(workerStep.arguments)) }
        return lines.joined(separator: "\n") + "\n"
    }
}
