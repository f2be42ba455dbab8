/// Starts Ray on every node (the head's step, then all workers in one more step) and waits until it
/// is really up: the GCS, the dashboard, and every node ALIVE with its CPUs and GPUs.
///
/// Every wait has one shape: the steps are checked (a node's Ray that dies ends the wait at once), a
/// termination request is honoured, progress is said every 10 s, and one deadline holds for all of it.
struct RayBringUp: Sendable {
    let plan: BootstrapPlan
    let edges: BootstrapEdges
    let readyTimeout: Double
    let environment: [String: String]
    let steps: StepRegistry
    let terminationRequested: Locked<Bool>

    /// The moments reached, for status.json.
    func run(reached: @Sendable (BootstrapStatus.Phase) async -> Void) async throws(Failure) {
        let say = edges.console.say
        say("starting Ray on \(plan.nodes.count) node(s): head \(plan.head) at \(plan.headAddress), dashboard \(plan.dashboardURL)")
        let deadline = edges.clock.now + readyTimeout
        steps.add(try edges.launcher.start(plan.headStep, environment: environment))
        // Workers only need the head's GCS, which answers seconds before the dashboard does.
        try await wait(
            for: "Ray's GCS on \(plan.head)", every: 0.1, until: deadline,
            failure: Failure(
                .runtime, "Ray's GCS at \(plan.gcsAddress) did not answer within \(Int(readyTimeout)) s (--ready-timeout)\n\(steps.tails([plan.head], edges.folder))",
                hint: "see \(plan.jobFolder)/ray-\(plan.head).log")
        ) { await edges.probe.gcsAnswers() }
        await reached(.gcsReady)
        if plan.workersStartEarly { try startWorkers("the head's GCS answers") }
        say("waiting for the dashboard (Ray's head takes 5-15 s)")
        try await wait(
            for: "Ray's dashboard at \(plan.dashboardURL)", every: 0.3, until: deadline,
            failure: Failure(
                .runtime, "Ray's dashboard at \(plan.dashboardURL) did not answer within \(Int(readyTimeout)) s (--ready-timeout)\n\(steps.tails([plan.head], edges.folder))",
                hint: "a port may be taken or the head failed; see \(plan.jobFolder)/ray-\(plan.head).log")
        ) { await edges.probe.dashboardAnswers() }
        await reached(.headReady)
        if !plan.workersStartEarly, plan.workerStep != nil {
            try await wait(
                for: "the head's own node", every: 0.25, until: deadline,
                failure: Failure(
                    .runtime, "the head's node did not register within \(Int(readyTimeout)) s (--ready-timeout)\n\(steps.tails([plan.head], edges.folder))",
                    hint: "see \(plan.jobFolder)/ray-\(plan.head).log")
            ) { await edges.probe.nodes()?.contains { $0.isAlive && ($0.isHeadNode || $0.nodeIP == plan.headAddress) } ?? false }
            try startWorkers("Ray \(plan.rayVersion?.description ?? "(version unknown)") registered the head (before 2.60 a worker must not join earlier)")
        }
        // No silent downgrade: a Ray that ignores RAY_AUTH_MODE (older than 2.52) serves everyone.
        if plan.authentication == .token {
            let mode = await edges.probe.authenticationMode()
            guard mode == "token" else {
                throw Failure(
                    .environment,
                    "Ray's dashboard at \(plan.dashboardURL) does not enforce token authentication (it says: \(mode)); its Ray is probably older than 2.52, and its Jobs API would run any code for anyone who reaches it",
                    hint: "use a venv with ray[default]>=2.52, or, on a network you trust, add --insecure-no-auth")
            }
        }
        try await waitForNodes(until: deadline)
        await reached(.rayReady)
    }

    private func startWorkers(_ reason: String) throws(Failure) {
        guard let workerStep = plan.workerStep else { return }
        edges.console.say("\(reason); starting Ray on \(plan.workers.count) worker node(s) \(HostList.compact(plan.workers)) in one step")
        steps.add(try edges.launcher.start(workerStep, environment: environment))
    }

    private func waitForNodes(until deadline: Double) async throws(Failure) {
        let count = Locked(NodeCount(alive: [], plan: plan))
        let lastReport = Locked("")
        try await wait(
            for: "\(plan.nodes.count) Ray nodes", every: 0.25, until: deadline,
            failure: notAllNodesCameUp(count.value)
        ) {
            guard let nodes = await edges.probe.nodes() else { return false }
            let current = NodeCount(alive: nodes.filter(\.isAlive), plan: plan)
            count.value = current
            if current.isComplete { return true }
            if lastReport.value != current.report {
                lastReport.value = current.report
                edges.console.say(current.report)
            }
            return false
        }
    }

    private func notAllNodesCameUp(_ count: NodeCount) -> Failure {
        Failure(
            .runtime,
            "only \(count.alive.count) of \(plan.nodes.count) Ray nodes came up within \(Int(readyTimeout)) s (--ready-timeout)"
                + (count.missing.isEmpty ? "" : "; missing: \(HostList.compact(count.missing))")
                + "\n\(steps.tails(count.missing.isEmpty ? plan.workers : count.missing, edges.folder))",
            hint: "see the nodes' logs in \(plan.jobFolder)")
    }

    private func wait(
        for what: String, every interval: Double, until deadline: Double, failure: @autoclosure () -> Failure, _ probe: () async -> Bool
    ) async throws(Failure) {
        let clock = edges.clock
        let started = clock.now
        var nextNote = started + 10
        while clock.now < deadline {
            try steps.check(plan: plan, folder: edges.folder)
            if terminationRequested.value || Task.isCancelled { throw Failure(.terminated, "terminated while waiting for \(what)") }
            if await probe() { return }
            if clock.now >= nextNote {
                edges.console.say("still waiting for \(what) (\(Int(clock.now - started)) s)")
                nextNote += 10
            }
            await clock.sleep(interval)
        }
        throw failure()
    }
}

/// How many of the plan's nodes Ray lists as ALIVE, with all their CPUs and GPUs: pure.
struct NodeCount: Sendable, Equatable {
    var alive: [RayNode]
    var missing: [String]
    var cpus: Int
    var gpus: Int
    var expected: Int
    var isComplete: Bool

    init(alive: [RayNode], plan: BootstrapPlan) {
        self.alive = alive
        expected = plan.nodes.count
        let addresses = Set(alive.map(\.nodeIP))
        missing = plan.nodes.filter { plan.expectedAddresses[$0].map { !addresses.contains($0) } ?? false }
        let gpus = Int(alive.reduce(0.0) { $0 + ($1.resourcesTotal["GPU"] ?? 0) })
        let cpus = Int(alive.reduce(0.0) { $0 + ($1.resourcesTotal["CPU"] ?? 0) })
        // Without a CPU count per node from Slurm, Ray's own detection is taken as it is.
        let expectedCPUs = plan.cpusPerNode.count == plan.nodes.count ? plan.cpusPerNode.reduce(0, +) : cpus
        self.gpus = gpus
        self.cpus = cpus
        isComplete = alive.count == plan.nodes.count && gpus == plan.nodes.count * plan.gpusPerNode && cpus == expectedCPUs
    }

    var report: String {
        "\(alive.count)/\(expected) nodes up (\(cpus) CPUs, \(gpus) GPUs)"
            + (missing.isEmpty ? "" : ", waiting for \(HostList.compact(missing))")
    }
}
