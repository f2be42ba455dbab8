/// What bootstrap will run, with everything that can fail without a cluster already failed: roles,
/// addresses, the port block, the job folder, and the pipeline's working_dir and runtime_env.
public struct BootstrapSetup: Sendable {
    public var plan: BootstrapPlan
    public var job: PreparedJob
    /// Said before anything starts (a dashboard on every interface, a tensor-parallel size that cannot fit).
    public var warnings: [String]
    /// Said as progress (a port block passed over).
    public var notes: [String]
}

/// The one place that plans a bootstrap run: the CLI parses flags, this decides.
public struct BootstrapPlanner: Sendable {
    let directory: any NodeDirectory
    let ports: any PortAvailability
    let installation: any RayInstallation

    public init(directory: any NodeDirectory, ports: any PortAvailability = SystemPorts(), installation: any RayInstallation) {
        self.directory = directory
        self.ports = ports
        self.installation = installation
    }

    public func plan(allocation: Allocation, options: BootstrapOptions, request: JobRequest, currentDirectory: String) throws(Failure) -> BootstrapSetup {
        let head = try AddressPlanner.head(of: allocation, requested: options.headNode)
        var warnings: [String] = []
        var notes: [String] = []
        let version = installation.version(ofRay: options.ray)
        let authentication = try Self.authentication(for: version, options: options, warnings: &warnings)
        let (headAddress, expected) = try addresses(allocation, head: head, policy: options.policy)
        if authentication == .none, allocation.thisNode != head {
            throw Failure.usage(
                "with --insecure-no-auth, bootstrap must run on the head node \(head): the dashboard listens on its loopback only",
                hint: "leave out --head-node, so the head is the batch script's node")
        }
        if let size = options.tensorParallelSize, size > allocation.gpusPerNode {
            warnings.append(
                "tensor-parallel size \(size) exceeds the \(allocation.gpusPerNode) GPUs per node (\(allocation.gpuSource)); a tensor-parallel group must fit on one node's GPUs")
        }
        if let host = options.dashboardHost, host == "0.0.0.0" || host == "::", authentication == .token {
            warnings.append("the dashboard will listen on all interfaces (\(host)); anyone who reaches it still needs the job's token")
        }
        var block = RayPorts.block(jobID: allocation.jobID)
        // Only the head's own ports can be checked, and bootstrap runs on the head unless --head-node moved it.
        if allocation.thisNode == head {
            // Ray's gRPC servers bind every interface: a port held on loopback only is taken for them too.
            let wildcard = headAddress.contains(":") ? "::" : "0.0.0.0"
            let free = RayPorts.firstFreeBlock(jobID: allocation.jobID) { candidate in
                candidate.headPorts.first { !ports.isFree($0, on: headAddress) || !ports.isFree($0, on: wildcard) }
            } moved: { port, next in
                notes.append("port \(port) on \(head) is in use; trying Ray ports \(next.base)-\(next.maxWorker)")
            }
            guard let free else {
                throw Failure.environment(
                    "no free block of Ray ports on \(head) (\(RayPorts.firstBlock)-32000)", hint: "another job or service holds them; check with `ss -ltn`")
            }
            block = free
        }
        let submitDirectory = allocation.submitDirectory ?? currentDirectory
        var options = options
        // Measured with 2.52 and 2.60 only; on 2.44 a driver once failed to bind its worker port with
        // them off, so older (or unknown) versions start everything, as they always did.
        if version.map({ $0 < RayVersion.tokenAuthentication }) ?? true { options.allRayProcesses = true }
        var plan = try BootstrapPlan.make(
            allocation: allocation, options: options, headAddress: headAddress, ports: block, expectedAddresses: expected,
            jobFolder: options.jobFolder ?? "\(submitDirectory)/slurm-distil-logs/\(allocation.jobID)", authentication: authentication)
        plan.rayVersion = version
        var request = request
        request.metadata["slurm_job_id"] = allocation.jobID
        // The working_dir is scanned and sized here, before any srun: a package over Ray's limit must not
        // cost a bring-up to be found out.
        let job = try JobSubmitter.prepare(request, currentDirectory: currentDirectory)
        return BootstrapSetup(plan: plan, job: job, warnings: warnings, notes: notes)
    }

    /// Token authentication unless the Ray cannot do it: then only with --insecure-no-auth, said loudly.
    /// A version that cannot be read is run with a token, and the dashboard's own answer is checked later.
    static func authentication(for version: RayVersion?, options: BootstrapOptions, warnings: inout [String]) throws(Failure) -> RayAuthentication {
        guard let version, !version.hasTokenAuthentication else {
            if options.insecureNoAuth {
                warnings.append("--insecure-no-auth is not needed: Ray \(version.map(\.description) ?? "(version unknown)") is run with token authentication")
            }
            return .token
        }
        guard options.insecureNoAuth else {
            throw Failure.environment(
                "Ray \(version) (\(options.ray)) has no token authentication, which came with Ray \(RayVersion.tokenAuthentication.major).\(RayVersion.tokenAuthentication.minor): its Jobs API would run any code for anyone who reaches the node",
                hint: "use a venv with ray[default]>=2.52, or, on a network you trust, add --insecure-no-auth (the dashboard then listens on the head's loopback only)")
        }
        if let host = options.dashboardHost, !["127.0.0.1", "localhost"].contains(host) {
            throw Failure.usage(
                "--dashboard-host \(host) with --insecure-no-auth would open Ray's Jobs API without authentication",
                hint: "leave out --dashboard-host: without authentication the dashboard listens on the head's loopback only")
        }
        warnings.append(
            "Ray \(version) has no token authentication; --insecure-no-auth: the dashboard listens on the head's loopback only, but Ray's agent on every node accepts jobs without authentication on all interfaces")
        return .none
    }

    /// The head's address, and every node's where it is known before the nodes start.
    private func addresses(_ allocation: Allocation, head: String, policy: AddressPolicy) throws(Failure) -> (String, [String: String]) {
        let planner = AddressPlanner(directory: directory)
        if case .interface(let name) = policy {
            guard allocation.thisNode == head else {
                throw Failure.usage(
                    "with --interface, bootstrap must run on the head node \(head) (it runs on \(allocation.thisNode ?? "an unknown node"))",
                    hint: "leave out --head-node, so the head is the batch script's node")
            }
            return (try planner.localAddress(interface: name, node: head), [:])
        }
        var expected: [String: String] = [:]
        for host in try planner.plan(allocation, policy: policy, headNode: head).hosts {
            expected[host.name] = host.address
        }
        return (expected[head] ?? "", expected)
    }
}
