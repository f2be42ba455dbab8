/// What one node's agent (`slurm-distil _node`) is told by bootstrap: built into the srun step's
/// arguments on the batch node and parsed back on every node by this one type, so the two cannot drift.
public struct NodeAgentSettings: Sendable, Equatable {
    public var role: HostEntry.Role
    public var jobID: String
    public var ray: String
    public var tempRoot: String
    public var ports: RayPorts
    public var policy: AddressPolicy
    /// The head's GCS address, for workers.
    public var headAddress: String?
    /// Where the head's dashboard listens.
    public var dashboardHost: String?
    public var gpus: Int
    public var objectStoreBytes: Int?
    public var drainTimeoutSeconds: Int
    public var metrics: Bool
    public var authentication: RayAuthentication
    public var allRayProcesses: Bool

    public init(
        role: HostEntry.Role, jobID: String, ray: String = "ray", tempRoot: String = "/tmp", ports: RayPorts, policy: AddressPolicy = .auto,
        headAddress: String? = nil, dashboardHost: String? = nil, gpus: Int = 0, objectStoreBytes: Int? = nil, drainTimeoutSeconds: Int = 5,
        metrics: Bool = false, authentication: RayAuthentication = .token, allRayProcesses: Bool = false
    ) {
        self.role = role
        self.jobID = jobID
        self.ray = ray
        self.tempRoot = tempRoot
        self.ports = ports
        self.policy = policy
        self.headAddress = headAddress
        self.dashboardHost = dashboardHost
        self.gpus = gpus
        self.objectStoreBytes = objectStoreBytes
        self.drainTimeoutSeconds = drainTimeoutSeconds
        self.metrics = metrics
        self.authentication = authentication
        self.allRayProcesses = allRayProcesses
    }

    public var arguments: [String] {
        var words = [
            "--role", role.rawValue, "--job-id", jobID, "--ray", ray, "--temp-root", tempRoot, "--port-base", String(ports.base),
            "--address-from", policy.argument, "--drain-timeout", String(drainTimeoutSeconds), "--num-gpus", String(gpus),
        ]
        if case .interface(let name) = policy { words += ["--interface", name] }
        if let headAddress { words += ["--head-address", headAddress] }
        if let dashboardHost { words += ["--dashboard-host", dashboardHost] }
        if let objectStoreBytes { words += ["--object-store-memory", String(objectStoreBytes)] }
        if metrics { words.append("--metrics") }
        if authentication == .none { words.append("--no-auth") }
        if allRayProcesses { words.append("--all-ray-processes") }
        return words
    }

    public init(parsing words: [String]) throws(Failure) {
        var values: [String: String] = [:]
        var metrics = false
        var authentication = RayAuthentication.token
        var allRayProcesses = false
        var index = 0
        while index < words.count {
            let word = words[index]
            let isFlag: Bool
            switch word {
            case "--metrics": (metrics, isFlag) = (true, true)
            case "--no-auth": (authentication, isFlag) = (.none, true)
            case "--all-ray-processes": (allRayProcesses, isFlag) = (true, true)
            default: isFlag = false
            }
            if isFlag {
                index += 1
                continue
            }
            guard Self.valueOptions.contains(word), index + 1 < words.count else {
                throw Failure.usage("_node: unexpected argument \(MessageQuoting.quote(word))", hint: "_node is started by bootstrap only")
            }
            values[word] = words[index + 1]
            index += 2
        }
        func required(_ name: String) throws(Failure) -> String {
            guard let value = values[name] else { throw Failure.usage("_node: \(name) is missing", hint: "_node is started by bootstrap only") }
            return value
        }
        func number(_ name: String) throws(Failure) -> Int? {
            guard let text = values[name] else { return nil }
            guard let value = Int(text), value >= 0 else { throw Failure.usage("_node: \(name) \(MessageQuoting.quote(text)) is not a number") }
            return value
        }
        guard let role = HostEntry.Role(rawValue: try required("--role")) else { throw Failure.usage("_node: --role must be head or worker") }
        guard let base = try number("--port-base") else { throw Failure.usage("_node: --port-base is missing") }
        self.init(
            role: role, jobID: try required("--job-id"), ray: values["--ray"] ?? "ray", tempRoot: values["--temp-root"] ?? "/tmp",
            ports: RayPorts(base: base), policy: try AddressPolicy(addressFrom: values["--address-from"] ?? "auto", interface: values["--interface"]),
            headAddress: values["--head-address"], dashboardHost: values["--dashboard-host"], gpus: try number("--num-gpus") ?? 0,
            objectStoreBytes: try number("--object-store-memory"), drainTimeoutSeconds: try number("--drain-timeout") ?? 5, metrics: metrics,
            authentication: authentication, allRayProcesses: allRayProcesses)
    }

    static let valueOptions: Set<String> = [
        "--role", "--job-id", "--ray", "--temp-root", "--port-base", "--address-from", "--interface", "--drain-timeout", "--num-gpus",
        "--head-address", "--dashboard-host", "--object-store-memory",
    ]
}
