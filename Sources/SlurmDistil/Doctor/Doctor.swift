import Foundation

/// What `doctor` (and `bootstrap --preflight`) is asked to check: bootstrap's own options, and the
/// working dir bootstrap would upload.
public struct DoctorOptions: Sendable {
    public var bootstrap: BootstrapOptions
    public var workingDir: String?
    /// How long the head listens for the workers' connections.
    public var rendezvousSeconds = 6.0

    public init(bootstrap: BootstrapOptions, workingDir: String? = nil) {
        self.bootstrap = bootstrap
        self.workingDir = workingDir
    }
}

/// Runs the checks of every node in ONE srun step, with the network check between the nodes, and
/// gathers them into a report. Nothing of Ray is started.
public struct Doctor: Sendable {
    let launcher: any StepLauncher
    let directory: any NodeDirectory
    let clock: any RunClock

    public init(launcher: any StepLauncher, directory: any NodeDirectory, clock: any RunClock = SystemClock()) {
        self.launcher = launcher
        self.directory = directory
        self.clock = clock
    }

    public func run(allocation: Allocation, options doctorOptions: DoctorOptions, environment: [String: String], currentDirectory: String)
        async throws(Failure) -> DoctorReport
    {
        let options = doctorOptions.bootstrap
        let started = clock.now
        let plan = try makePlan(allocation: allocation, options: doctorOptions, currentDirectory: currentDirectory, environment: environment)
        defer { for probe in plan.sharedProbes { try? FileManager.default.removeItem(atPath: probe.file) } }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("slurm-distil-doctor-\(allocation.jobID)-\(getpid()).txt").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let step = BootstrapPlan.everyNodeStep(
            nodeCount: allocation.nodes.count, gpusPerNode: allocation.gpusPerNode, [options.launcher, "_doctor", plan.argument])
        let status = try await launcher.run(
            step, environment: BootstrapPlan.stepEnvironment(environment), outputPath: output, timeout: plan.rendezvousSeconds + 30)
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        var findings = Self.findings(in: text)
        // A node that said nothing: its step never ran there, or died; srun's own words say why.
        let srunSaid = text.split(separator: "\n").first { $0.hasPrefix("srun:") || $0.contains("error") }.map(String.init)
        for node in allocation.nodes where !findings.contains(where: { $0.node == node && $0.check == "slurm" }) {
            findings.append(
                DoctorFinding(
                    node, "step", .fail, "no answer from \(node)\(status.map { " (srun exit \($0))" } ?? " (killed after \(Int(plan.rendezvousSeconds + 30)) s)")\(srunSaid.map { ": \($0)" } ?? "")",
                    hint: "the node cannot run slurm-distil (\(options.launcher)) or srun steps; try `srun -w \(node) hostname`"))
        }
        return DoctorReport(nodes: allocation.nodes, findings: findings, seconds: clock.now - started)
    }

    static func findings(in output: String) -> [DoctorFinding] {
        output.split(separator: "\n").compactMap { line in
            guard line.hasPrefix(NodeDoctor.linePrefix) else { return nil }
            return try? JSONDecoder().decode(DoctorFinding.self, from: Data(line.dropFirst(NodeDoctor.linePrefix.count).utf8))
        }
    }

    func makePlan(allocation: Allocation, options doctorOptions: DoctorOptions, currentDirectory: String, environment: [String: String])
        throws(Failure) -> DoctorPlan
    {
        let options = doctorOptions.bootstrap
        let head = try AddressPlanner.head(of: allocation, requested: options.headNode)
        let planner = AddressPlanner(directory: directory)
        // The head's address is what the workers connect to; a head without one is reported by the
        // head itself, and the workers then skip the connection.
        let headAddress: String
        if case .interface(let name) = options.policy {
            headAddress = allocation.thisNode == head ? (try? planner.localAddress(interface: name, node: head)) ?? "" : ""
        } else {
            var single = try Allocation(nodeList: head)
            single.thisNode = allocation.thisNode
            headAddress = (try? planner.plan(single, policy: options.policy).hosts.first?.address) ?? ""
        }
        let nonce = BootstrapRun.newToken()
        var probes: [DoctorPlan.SharedProbe] = []
        var folders = [("submit folder", allocation.submitDirectory ?? currentDirectory)]
        if let workingDir = doctorOptions.workingDir, !workingDir.contains("://") {
            let path = workingDir.hasPrefix("/") ? workingDir : currentDirectory + "/" + workingDir
            folders.append(("working dir", URL(fileURLWithPath: path).standardizedFileURL.path))
        }
        if let ray = InstalledRay(environment: environment).executable(options.ray), let venv = InstalledRay.venvRoot(ofScript: ray) {
            folders.append(("venv", venv))
        }
        for (role, folder) in folders {
            let file = "\(folder)/.slurm-distil-doctor-\(allocation.jobID)-\(role.replacingOccurrences(of: " ", with: "-"))"
            // A folder this node cannot write to is checked by the nodes reading nothing there.
            _ = try? nonce.write(toFile: file, atomically: true, encoding: .utf8)
            probes.append(.init(role: role, folder: folder, file: file))
        }
        return DoctorPlan(
            jobID: allocation.jobID, nodes: allocation.nodes, head: head, headAddress: headAddress, policy: options.policy, ray: options.ray,
            tempRoot: options.tempRoot, objectStoreBytes: options.objectStoreBytes, ports: RayPorts.block(jobID: allocation.jobID),
            sharedProbes: probes, nonce: nonce, insecureNoAuth: options.insecureNoAuth, rendezvousSeconds: doctorOptions.rendezvousSeconds)
    }
}
