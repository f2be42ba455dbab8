import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What runs on each node inside bootstrap's srun step: works out this node's own address, starts
/// `ray start --block` as its child, and on SIGTERM stops exactly that child's process tree.
public struct NodeAgent {
    let settings: NodeAgentSettings
    let environment: [String: String]
    let directory: any NodeDirectory

    public init(settings: NodeAgentSettings, environment: [String: String], directory: any NodeDirectory) {
        self.settings = settings
        self.environment = environment
        self.directory = directory
    }

    /// What the agent prints when its Ray ended without being asked to: bootstrap reads it in the
    /// node's log to tell the lost node from those srun stopped with it.
    static let rayExitedMarker = "Ray exited by itself"

    static func say(_ text: String) {
        OutputFile.standardError.write("slurm-distil node: \(text)\n")
    }

    /// A worker whose head is gone stops its own Ray. Normally bootstrap's stop request arrives first, but
    /// it travels through slurmd: with the node's slurmd dead it never comes, and Ray itself would
    /// linger for a minute (its GCS reconnect timeout) after the job has ended.
    private func watchHead(node: String, child: ChildProcess, stopping: Locked<Bool>, stopped: DispatchSemaphore) -> DispatchSourceTimer? {
        guard let gcs = settings.headAddress, let colon = gcs.lastIndex(of: ":"), let port = Int(gcs[gcs.index(after: colon)...]) else { return nil }
        let host = gcs[..<colon].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let misses = Locked(0)
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + Self.headCheckInterval, repeating: Self.headCheckInterval)
        timer.setEventHandler {
            let missed = misses.withLock { count in
                count = PortProbe.accepts(port, on: host) ? 0 : count + 1
                return count
            }
            guard missed == Self.headMissesBeforeStopping, !stopping.testAndSet() else { return }
            Self.say("\(node): the head's GCS at \(gcs) has not answered for \(Int(Double(missed) * Self.headCheckInterval)) s; stopping this node's Ray")
            ProcessTree.terminate(child.pid, grace: 2)
            stopped.signal()
        }
        timer.resume()
        return timer
    }

    static let headCheckInterval = 2.0
    static let headMissesBeforeStopping = 5

    /// The end of Ray's own logs of this node, to this step's output (the job folder's ray-NODE.log).
    static func reportRayLogs(_ rayTemp: String) {
        let logs = rayTemp + "/session_latest/logs"
        for name in ["raylet.out", "raylet.err", "gcs_server.out", "gcs_server.err", "dashboard.log", "dashboard_agent.log"] {
            guard let text = try? String(contentsOfFile: "\(logs)/\(name)", encoding: .utf8), !text.isEmpty else { continue }
            let tail = text.split(separator: "\n", omittingEmptySubsequences: false).suffix(15).joined(separator: "\n")
            say("--- last lines of Ray's \(name):\n\(tail)")
        }
    }

    /// Removes `path` even while Ray's last processes still write into it: a removal fails as a whole
    /// when an entry appears or vanishes under it.
    static func removeFolder(_ path: String) {
        for _ in 0..<5 {
            guard FileManager.default.fileExists(atPath: path) else { return }
            if (try? FileManager.default.removeItem(atPath: path)) != nil { return }
            usleep(100_000)
        }
        say("could not remove \(path)")
    }

    /// Runs until Ray ends or a signal arrives; returns the exit status for the step.
    public func run() throws(Failure) -> Int32 {
        guard let node = environment["SLURMD_NODENAME"], !node.isEmpty else {
            throw Failure.environment("SLURMD_NODENAME is not set", hint: "_node only runs inside bootstrap's srun steps")
        }
        let address: String
        switch settings.policy {
        case .interface(let name):
            address = try AddressPlanner(directory: directory).localAddress(interface: name, node: node)
        default:
            var single = try Allocation(nodeList: node)
            single.thisNode = node
            guard let found = try AddressPlanner(directory: directory).plan(single, policy: settings.policy).hosts.first?.address else {
                throw Failure.environment("no address for \(node)", hint: "give --interface NAME")
            }
            address = found
        }
        let temp = BootstrapPlan.tempDirectory(root: settings.tempRoot, jobID: settings.jobID, node: node)
        // A requeued job reuses the id: start from an empty, private folder.
        try? FileManager.default.removeItem(atPath: temp)
        do {
            try FileManager.default.createDirectory(atPath: temp, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            // Explicitly: the umask must not widen it, and Ray chmods its own temp dir (inside) to 0777.
            chmod(temp, 0o700)
        } catch {
            throw Failure.environment("cannot create Ray's temp dir \(temp) on \(node): \(error.localizedDescription)", hint: "check --temp-root on that node")
        }
        let command = BootstrapPlan.rayStart(
            ray: settings.ray, role: settings.role, nodeAddress: address, headAddress: settings.headAddress,
            dashboardHost: settings.dashboardHost, ports: settings.ports,
            tempDirectory: BootstrapPlan.rayTempDirectory(root: settings.tempRoot, jobID: settings.jobID, node: node),
            cpus: environment["SLURM_CPUS_ON_NODE"].flatMap(Int.init), gpus: settings.gpus, objectStoreBytes: settings.objectStoreBytes,
            allRayProcesses: settings.allRayProcesses)
        var childEnvironment = environment.merging(
            BootstrapPlan.rayEnvironment(
                ports: settings.ports, drainTimeoutSeconds: settings.drainTimeoutSeconds, metrics: settings.metrics,
                authentication: settings.authentication, allRayProcesses: settings.allRayProcesses)
        ) { _, ours in ours }
        if case .interface(let name) = settings.policy {
            // Collective libraries pick their own interface otherwise, often not the one Ray uses.
            childEnvironment["NCCL_SOCKET_IFNAME"] = childEnvironment["NCCL_SOCKET_IFNAME"] ?? name
            childEnvironment["GLOO_SOCKET_IFNAME"] = childEnvironment["GLOO_SOCKET_IFNAME"] ?? name
        }
        guard settings.authentication == .none || childEnvironment["RAY_AUTH_TOKEN"] != nil else {
            throw Failure.environment("RAY_AUTH_TOKEN is not set for this step", hint: "_node only runs inside bootstrap's srun steps")
        }
        Self.say("\(node): starting Ray \(settings.role.rawValue) at \(address): \(ShellQuoting.join(command))")

        let stopping = Locked(false)
        let stopped = DispatchSemaphore(value: 0)
        let childPID = Locked<pid_t?>(nil)
        // SIGUSR1 is bootstrap's own stop request (srun forwards it; srun turns SIGTERM into a kill);
        // SIGTERM comes from Slurm itself (scancel, time limit), which sends SIGKILL KillWait seconds later.
        // Watched before Ray starts, so that no signal can end this agent and orphan Ray.
        let signals = SignalWatcher([SIGTERM, SIGINT, SIGHUP, SIGUSR1]) { number in
            guard let pid = childPID.value, !stopping.testAndSet() else { return }
            Self.say("\(node): signal \(number): stopping this node's Ray (pid \(pid) and its processes)")
            // Slurm's SIGKILL follows its SIGTERM after KillWait (5 s on the virtual cluster): stop Ray
            // and remove the private folder within that, here, before the main thread wakes up.
            let killed = ProcessTree.terminate(pid, grace: 2)
            if !killed.isEmpty { Self.say("\(node): \(killed.count) Ray processes needed SIGKILL") }
            Self.removeFolder(temp)
            stopped.signal()
        }
        defer { signals.cancel() }
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(settings.ray, Array(command.dropFirst()), environment: childEnvironment, stdin: .null)
        } catch {
            try? FileManager.default.removeItem(atPath: temp)
            throw Failure.environment(
                "\(node): \(error.message)",
                hint: "install Ray in the venv the job activates on every node (gen-sbatch --venv), or give bootstrap --ray PATH")
        }
        childPID.value = child.pid
        // Ray's processes are re-parented away when `ray start` dies first; remember who they are.
        let tree = Locked<[pid_t]>([])
        let watcher = DispatchSource.makeTimerSource(queue: .global())
        watcher.schedule(deadline: .now() + 1, repeating: 1)
        watcher.setEventHandler {
            let found = ProcessTree.descendants(of: [child.pid] + tree.value.filter(ProcessTree.isAlive))
            tree.withLock { known in known += found.filter { !known.contains($0) } }
        }
        watcher.resume()
        let headWatch = settings.role == .worker ? watchHead(node: node, child: child, stopping: stopping, stopped: stopped) : nil
        let status = child.wait()
        watcher.cancel()
        headWatch?.cancel()
        // The handler is still stopping the rest of the tree and removing the folder: returning now
        // would end the process halfway through (a CI run once found a folder left that way).
        if stopping.value { _ = stopped.wait(timeout: .now() + 10) }
        // Ray's own logs say why it ended, and they live in the folder removed below.
        if !stopping.value { Self.reportRayLogs(BootstrapPlan.rayTempDirectory(root: settings.tempRoot, jobID: settings.jobID, node: node)) }
        let leftovers = tree.value.filter(ProcessTree.isAlive)
        ProcessTree.terminate(leftovers, grace: 2)
        Self.removeFolder(temp)
        if stopping.value {
            Self.say("\(node): Ray stopped; temp dir removed")
            return 0
        }
        Self.say("\(node): \(Self.rayExitedMarker) with status \(status)\(leftovers.isEmpty ? "" : ", \(leftovers.count) processes killed after it")")
        return status == 0 ? 1 : status
    }
}
