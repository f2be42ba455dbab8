import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What the user allows when Slurm ends the allocation before the pipeline is done.
public struct RequeuePolicy: Sendable, Equatable {
    /// What bootstrap does when a node's Ray dies mid-run.
    public enum NodeLoss: String, Sendable, CaseIterable {
        /// The run ends.
        case fail
        /// Stop, exclude the node, requeue: one of the restarts.
        case requeue
    }

    /// How many times bootstrap may requeue the job itself (time limit, node loss). A preemption is
    /// Slurm's requeue and is not bounded here, but it counts as a restart like the others.
    public var maxRestarts = 0
    public var onNodeLoss = NodeLoss.fail

    public static let maximumRestarts = 100

    /// Whether a node lost now would requeue the job, after `restarts` restarts so far.
    public func requeuesOnNodeLoss(restarts: Int) -> Bool { onNodeLoss == .requeue && restarts < maxRestarts }

    public init(maxRestarts: Int = 0, onNodeLoss: NodeLoss = .fail) {
        self.maxRestarts = maxRestarts
        self.onNodeLoss = onNodeLoss
    }

    /// bootstrap's --max-restarts and --on-node-loss.
    public init(checkingMaxRestarts maxRestarts: Int, onNodeLoss: String) throws(Failure) {
        guard (0...Self.maximumRestarts).contains(maxRestarts) else {
            throw Failure.usage("--max-restarts \(maxRestarts) is out of range", hint: "give 0 to \(Self.maximumRestarts): how many times the job may be requeued")
        }
        guard let nodeLoss = NodeLoss(rawValue: onNodeLoss) else {
            throw Failure.usage(
                "--on-node-loss \(MessageQuoting.quote(onNodeLoss)) is not known", hint: "give \(NodeLoss.allCases.map(\.rawValue).joined(separator: " or "))")
        }
        if nodeLoss == .requeue, maxRestarts == 0 {
            throw Failure.usage("--on-node-loss requeue needs --max-restarts N (N > 0)", hint: "each requeue counts as a restart: add e.g. --max-restarts 3")
        }
        self.init(maxRestarts: maxRestarts, onNodeLoss: nodeLoss)
    }
}

/// Why an attempt ended early so that another one goes on.
public enum RequeueReason: Sendable, Equatable {
    case timeLimit
    case preempted
    case nodeLost([String])

    public var words: String {
        switch self {
        case .timeLimit: "time limit"
        case .preempted: "preempted"
        case .nodeLost(let nodes): nodes.isEmpty ? "node lost (which one could not be told)" : "node lost: \(nodes.joined(separator: ","))"
        }
    }
}

/// The decision bootstrap takes when its pipeline is interrupted: stop it (gracefully where the next
/// attempt can resume) and requeue the job, or end as before. Pure: the inputs are facts. bootstrap
/// requeues a preempted job itself too: it may end before Slurm's grace time does.
public struct RequeueDecision: Sendable, Equatable {
    public var reason: RequeueReason
    /// Seconds the pipeline may take to stop and write its cache, before it is killed.
    public var drainSeconds: Double

    /// Time kept back, out of the time Slurm leaves, for the teardown (its grace period, then a kill)
    /// and the requeue itself.
    public static let reserveSeconds: Double = TeardownStep.bootstrapSteps.map(\.allowedSeconds).reduce(0, +) + 15
    /// When Slurm does not say how long is left (a job without a time limit shows EndTime=Unknown even
    /// in a preemption's grace time): what the pipeline may take to stop. A GraceTime under a minute
    /// ends the job before that; the attempt is then not trusted to resume from (killed outright).
    public static let defaultDrainSeconds: Double = 40
    /// The longest time before the limit at which SIGTERM is taken for the time-limit signal
    /// (--signal-lead); earlier, it is someone's `scancel --signal=TERM`, which stops the run.
    public static let timeLimitWindow: Double = 3600

    /// After a termination signal. `record` is Slurm's view of the job at that moment, nil if
    /// scontrol could not say; `restarts` is SLURM_RESTART_COUNT.
    public static func afterSignal(_ signal: Int32, policy: RequeuePolicy, restarts: Int, record: SlurmJobRecord?, now: Date) -> RequeueDecision? {
        // SIGINT and SIGHUP come from a user's terminal; CANCELLED (scancel) or already ending: the
        // user wants it to stop.
        guard signal == SIGTERM, let record, record.state == "RUNNING" else { return nil }
        let left = record.secondsLeft(now: now)
        let drain = left.map { max(5, $0 - reserveSeconds) } ?? defaultDrainSeconds
        if record.preemptTime != nil {
            // Only a requeueable job comes back from a preemption.
            guard record.requeueable else { return nil }
            return RequeueDecision(reason: .preempted, drainSeconds: drain)
        }
        // Still RUNNING, not preempted, near its end: the signal Slurm sends --signal-lead before the limit.
        guard restarts < policy.maxRestarts, let left, left <= timeLimitWindow else { return nil }
        return RequeueDecision(reason: .timeLimit, drainSeconds: drain)
    }

    /// After a node's Ray step died while the pipeline ran; `lostNodes` is empty when the node could not
    /// be told (the job is then requeued without excluding any).
    public static func afterNodeLoss(policy: RequeuePolicy, restarts: Int, lostNodes: [String]) -> RequeueDecision? {
        guard policy.requeuesOnNodeLoss(restarts: restarts) else { return nil }
        // Not drained: see BootstrapRun.endForRequeue.
        return RequeueDecision(reason: .nodeLost(lostNodes), drainSeconds: 0)
    }
}

/// The environment a pipeline gets from bootstrap: which attempt this is, and where distilabel keeps
/// the cache that lets the next attempt resume.
public enum AttemptEnvironment {
    public static let attemptVariable = "SLURM_DISTIL_ATTEMPT"
    public static let distilabelCacheVariable = "DISTILABEL_CACHE_DIR"

    /// The default cache folder: in the job folder, on storage every node and every attempt sees, and
    /// under the same path each time (distilabel's cache stores absolute paths).
    public static func distilabelCache(jobFolder: String) -> String { jobFolder + "/distilabel-cache" }

    /// The cache folder the pipeline will use: the user's own (bootstrap's environment or the
    /// runtime_env) wins over the default.
    public static func distilabelCache(jobFolder: String, environment: [String: String], runtimeEnv: JSONValue?) -> String {
        if let own = runtimeEnvVariable(distilabelCacheVariable, in: runtimeEnv) ?? environment[distilabelCacheVariable], !own.isEmpty { return own }
        return distilabelCache(jobFolder: jobFolder)
    }

    /// The job's runtime_env with the attempt number and the cache folder in env_vars; a value the
    /// user set there is kept.
    public static func runtimeEnv(_ runtimeEnv: JSONValue?, attempt: Int, distilabelCache: String) -> JSONValue {
        guard case .object(var object) = runtimeEnv ?? .object([:]) else { return runtimeEnv ?? .object([:]) }
        var variables: [String: JSONValue] = [:]
        if case .object(let existing) = object["env_vars"] { variables = existing }
        variables[attemptVariable] = .string(String(attempt))
        if variables[distilabelCacheVariable] == nil { variables[distilabelCacheVariable] = .string(distilabelCache) }
        object["env_vars"] = .object(variables)
        return .object(object)
    }

    static func runtimeEnvVariable(_ name: String, in runtimeEnv: JSONValue?) -> String? {
        guard case .object(let object) = runtimeEnv, case .object(let variables) = object["env_vars"], case .string(let value) = variables[name] else { return nil }
        return value
    }
}
