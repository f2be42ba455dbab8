import Foundation

/// How a run ended: the batch job's exit status, and the failure to report if it was not the
/// pipeline's own outcome. The CLI turns it into the process exit (CommandRunner prints the failure).
public struct BootstrapOutcome: Sendable, Equatable {
    public var exitCode: Int32
    public var failure: Failure?
    public var status: BootstrapStatus
}

/// The settings of a run that are not in the plan.
public struct BootstrapRunSettings: Sendable {
    /// Folders every node must see as the same storage, checked before the pipeline starts.
    public var requireShared: [String] = []
    public var watchdog = Watchdog()
    /// How long Ray may take to be up on every node (seconds), counted from the head step's start.
    public var readyTimeout: Double = 300
    /// bootstrap's own environment: the steps start from it, and its secrets are masked in the output.
    public var environment: [String: String] = [:]
    public var requeue = RequeuePolicy()
    /// SLURM_RESTART_COUNT: how many times Slurm started this batch job before.
    public var restarts = 0
    public var attempt: Int { restarts + 1 }

    public init() {}
}

/// The run inside an allocation, as a short script of phases over its edges: Ray up on every node,
/// the shared folders checked, the pipeline submitted and followed, its status kept in status.json,
/// and exactly what was started torn down again.
public actor BootstrapRun {
    let plan: BootstrapPlan
    let job: PreparedJob
    let settings: BootstrapRunSettings
    let edges: BootstrapEdges
    let token: String?
    var status: BootstrapStatus
    private let started: Double
    let steps = StepRegistry()
    let terminationRequested = Locked(false)
    /// The first termination signal: SIGTERM may be Slurm's (time limit, preemption), the others a user's.
    let terminationSignal = Locked<Int32?>(nil)
    /// Whether Slurm may run the job again, once asked.
    let requeueable = Locked<Bool?>(nil)
    private let work = Locked<Task<Result<RayJobInfo, Failure>, Never>?>(nil)

    /// `token` is nil when the plan runs without authentication.
    public init(plan: BootstrapPlan, job: PreparedJob, settings: BootstrapRunSettings, edges: BootstrapEdges, token: String?, warnings: [String] = []) {
        self.plan = plan
        self.job = job
        self.settings = settings
        self.edges = edges
        self.token = token
        started = edges.clock.now
        status = BootstrapStatus(plan: plan, startedAt: edges.wallClock())
        status.warnings = warnings
        status.attempt = settings.attempt
    }

    /// SIGTERM/SIGINT/SIGHUP: stop the pipeline, keep its output, tear down. Safe from any thread.
    public nonisolated func requestTermination(signal: Int32) {
        guard !terminationRequested.testAndSet() else { return }
        terminationSignal.value = signal
        edges.console.say("signal \(signal) received: stopping the pipeline, saving its output, tearing down")
        work.value?.cancel()
    }

    public func run() async -> BootstrapOutcome {
        let result: Result<RayJobInfo, Failure>
        do throws(Failure) {
            try prepareFolder()
            let task = Task { () async -> Result<RayJobInfo, Failure> in
                do throws(Failure) { return .success(try await self.phases()) } catch { return .failure(error) }
            }
            work.value = task
            if terminationRequested.value { task.cancel() }
            result = await task.value
        } catch {
            result = .failure(error)
        }
        var failure: Failure?
        switch result {
        case .success(let final):
            status.status = BootstrapStatus.State(job: final.status)
            status.jobStatus = final.status
            status.exitCode = final.exitCode
            status.message = final.message.map { String($0.prefix(2000)) }
        case .failure(var error):
            if let decision = await requeueDecision(after: error) {
                return await endForRequeue(decision, after: error)
            }
            if terminationRequested.value, error.kind != .stalled, error.kind != .maxRuntime { error.kind = .terminated }
            failure = error
            status.status = Self.state(after: error)
            status.exitCode = error.kind.code
            status.message = error.description
            if let id = status.submissionID, error.kind != .connection { await stopJob(id) }
            edges.console.say("ending: \(error.message.prefix { $0 != "\n" })")
        }
        endAttempt()
        mark(.finished)
        // Written before tearing down too: after scancel, Slurm's SIGKILL follows KillWait seconds later.
        writeStatus()
        await teardown()
        writeStatus()
        if failure == nil {
            edges.console.say("done: \(status.status.rawValue), exit \(status.exitCode); output and status in \(plan.jobFolder)")
        }
        return BootstrapOutcome(exitCode: status.exitCode, failure: failure, status: status)
    }

    static func state(after failure: Failure) -> BootstrapStatus.State {
        switch failure.kind {
        case .stalled: .stalled
        case .maxRuntime: .maxRuntime
        case .terminated: .terminated
        default: .bootstrapFailed
        }
    }

    private func phases() async throws(Failure) -> RayJobInfo {
        var environment = BootstrapPlan.stepEnvironment(settings.environment)
        let mayBeRequeued = await mayBeRequeued()
        if mayBeRequeued {
            // Ray's job stop then sends SIGINT, on which distilabel finishes its batch and writes its
            // cache, and waits for the driver to end by itself: bootstrap bounds the wait (drain, teardown).
            environment["RAY_JOB_STOP_SIGNAL"] = "SIGINT"
            environment["RAY_JOB_STOP_WAIT_TIME_S"] = "86400"
        }
        environment["RAY_AUTH_TOKEN"] = nil
        if let token {
            environment["RAY_AUTH_MODE"] = "token"
            environment["RAY_AUTH_TOKEN"] = token
        }
        let bringUp = RayBringUp(
            plan: plan, edges: edges, readyTimeout: settings.readyTimeout, environment: environment, steps: steps,
            terminationRequested: terminationRequested)
        try await bringUp.run { [self] phase in await mark(phase) }
        for path in settings.requireShared {
            try await SharedStorageCheck(plan: plan, edges: edges, environment: environment).check(path)
        }
        var job = self.job
        if mayBeRequeued {
            // The next attempt resumes from what this one leaves in the job folder: every node must see it.
            try await SharedStorageCheck(plan: plan, edges: edges, environment: environment).check(plan.jobFolder, purpose: .resume)
            let cache = AttemptEnvironment.distilabelCache(jobFolder: plan.jobFolder, environment: settings.environment, runtimeEnv: job.submission.runtimeEnv)
            job.submission.runtimeEnv = AttemptEnvironment.runtimeEnv(job.submission.runtimeEnv, attempt: settings.attempt, distilabelCache: cache)
        }
        var watch = PipelineWatch(
            plan: plan, edges: edges, watchdog: settings.watchdog,
            redactor: SecretRedactor(
                environment: settings.environment, runtimeEnvSecrets: job.runtimeEnv.secrets, token: token.map { RayToken(value: $0, source: plan.tokenPath) }),
            environment: environment, steps: steps, terminationRequested: terminationRequested)
        if settings.requeue.requeuesOnNodeLoss(restarts: settings.restarts) { watch.nodeLossGrace = Self.nodeLossGrace }
        return try await watch.run(job) { [self] id in await submitted(id) }
    }

    private func submitted(_ id: String) {
        status.current.submissionID = id
        status.submissionID = id
        mark(.submitted)
        // On disk while it runs too: if this process is killed outright, the submission id is not lost.
        status.status = .running
        writeStatus()
    }

    /// Slurm kills everything KillWait seconds after its SIGTERM: ask Ray to stop the job, wait briefly.
    func stopJob(_ id: String) async {
        edges.console.say("stopping Ray job \(id)")
        try? await edges.pipeline.stop(id)
        for _ in 0..<10 {
            if let info = try? await edges.pipeline.job(id), info.status.isTerminal {
                status.jobStatus = info.status
                return
            }
            await edges.clock.sleep(0.25)
        }
    }

    func teardown() async {
        let started = steps.all
        guard !started.isEmpty else { return }
        edges.console.say("tearing down Ray on \(plan.nodes.count) node(s)")
        // Workers first: a head that goes first makes every worker log GCS reconnect errors.
        for name in await Teardown.run(started.reversed(), sequence: TeardownStep.bootstrapSteps, clock: edges.clock) {
            edges.console.say("the \(name) step did not end within \(Int(TeardownStep.bootstrapSteps[0].allowedSeconds)) s; killed it")
        }
        mark(.tornDown)
    }

    private func prepareFolder() throws(Failure) {
        try edges.folder.create()
        var attempt = BootstrapStatus.Attempt(number: settings.attempt, startedAt: status.startedAt, nodes: plan.nodes)
        if settings.restarts > 0 {
            attempt.resume = resumeEarlierAttempts()
            for line in attempt.resume { edges.console.say(line) }
        }
        status.current = attempt
        if let token { try edges.folder.writeToken(token) }
        writeStatus()
    }

    func mark(_ phase: BootstrapStatus.Phase) {
        status.seconds[phase] = ((edges.clock.now - started) * 100).rounded() / 100
    }

    func writeStatus() {
        if !edges.folder.write(status) {
            edges.console.say(
                "warning: could not write \(plan.jobFolder)/status.json; the job's status is only in this output: \(status.status.rawValue), exit \(status.exitCode)")
        }
    }

    public static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(UInt8.random(in: 0...255, using: &generator), radix: 16).leftPadded(to: 2) }.joined()
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
