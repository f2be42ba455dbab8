/// `JOBFOLDER/status.json`: what bootstrap did and how it ended, on disk from the start of the run and
/// kept up to date, so that a run killed outright still leaves its last known state. The integration
/// tests read it through this same type.
public struct BootstrapStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable, CaseIterable {
        /// Ray is being started and checked; nothing was submitted yet.
        case starting = "STARTING"
        /// The pipeline was submitted and is followed.
        case running = "RUNNING"
        case succeeded = "SUCCEEDED"
        case failed = "FAILED"
        case stopped = "STOPPED"
        /// Stopped by --stall-timeout.
        case stalled = "STALLED"
        /// Stopped by --max-runtime.
        case maxRuntime = "MAX_RUNTIME"
        /// SIGTERM (scancel, or the signal before the time limit): the pipeline was stopped.
        case terminated = "TERMINATED"
        /// bootstrap itself failed (Ray did not come up, a step died, bad input found late).
        case bootstrapFailed = "BOOTSTRAP_FAILED"
        /// This attempt was stopped (time limit, preemption, a lost node) and the job requeued: the next
        /// attempt resumes the pipeline.
        case requeued = "REQUEUED"

        init(job: RayJobInfo.Status) {
            switch job {
            case .succeeded: self = .succeeded
            case .failed: self = .failed
            case .stopped: self = .stopped
            case .pending, .running: self = .running
            }
        }
    }

    /// The moments of a run, in seconds after `startedAt`.
    public enum Phase: String, Codable, Sendable, CaseIterable, CodingKeyRepresentable {
        case gcsReady, headReady, rayReady, submitted, finished, tornDown
    }

    public var slurmJobID: String
    public var nodes: [String]
    public var head: String
    public var dashboard: String
    public var rayPorts: String
    /// Wall-clock start, seconds since 1970.
    public var startedAt: Double
    public var status: State
    public var exitCode: Int32
    public var submissionID: String?
    /// Ray's last word on the job, where it differs from `status` (a TERMINATED run's job is STOPPED).
    public var jobStatus: RayJobInfo.Status?
    public var message: String?
    public var seconds: [Phase: Double] = [:]
    /// "token", or "none" with --insecure-no-auth.
    public var authentication: RayAuthentication
    public var rayVersion: String?
    /// What the run warned about (no authentication, a dashboard on every interface).
    public var warnings: [String]
    /// 1 for the first run of the batch job, N+1 after N requeues (SLURM_RESTART_COUNT).
    public var attempt: Int = 1
    /// Every attempt so far, this one last; the fields above are this attempt's.
    public var attempts: [Attempt] = []

    /// One allocation's run of the pipeline. Its logs stay in JOBFOLDER/attempt-N/ once the next begins.
    public struct Attempt: Codable, Sendable, Equatable {
        public var number: Int
        public var startedAt: Double
        public var endedAt: Double?
        public var nodes: [String]
        public var status: State
        public var exitCode: Int32?
        public var submissionID: String?
        /// "time limit", "preempted" or "node lost: NODE" when this attempt was cut short and the job requeued.
        public var requeueReason: String?
        /// The pipeline ended by itself after the graceful stop signal.
        public var stoppedGracefully: Bool?
        /// The next attempt may resume from the pipeline's cache: it stopped gracefully and no node was
        /// lost (a batch in flight on a lost node is recorded as taken but never comes out).
        public var resumable: Bool?
        /// From the stop signal to the pipeline's end (or to the kill when it did not end in time).
        public var stopSeconds: Double?
        /// What was done before this attempt so that it resumes (the distilabel cache repaired or set aside).
        public var resume: [String] = []

        public init(number: Int, startedAt: Double, nodes: [String]) {
            self.number = number
            self.startedAt = startedAt
            self.nodes = nodes
            status = .starting
        }
    }

    public init(plan: BootstrapPlan, startedAt: Double) {
        slurmJobID = plan.jobID
        nodes = plan.nodes
        head = plan.head
        dashboard = plan.dashboardURL
        rayPorts = "\(plan.ports.base)-\(plan.ports.maxWorker)"
        self.startedAt = (startedAt * 1000).rounded() / 1000
        status = .starting
        exitCode = 0
        authentication = plan.authentication
        rayVersion = plan.rayVersion?.description
        warnings = []
    }

    /// This attempt's entry in `attempts`.
    public var current: Attempt {
        get { attempts.last(where: { $0.number == attempt }) ?? Attempt(number: attempt, startedAt: startedAt, nodes: nodes) }
        set {
            if let index = attempts.lastIndex(where: { $0.number == attempt }) { attempts[index] = newValue } else { attempts.append(newValue) }
        }
    }

    public var portBase: Int { Int(rayPorts.split(separator: "-").first ?? "") ?? 0 }

    /// Seconds from `finished` to `tornDown`: how long the teardown took.
    public var teardownSeconds: Double? {
        guard let finished = seconds[.finished], let tornDown = seconds[.tornDown] else { return nil }
        return tornDown - finished
    }

    /// Seconds from `moment` (since 1970) until the outcome was known.
    public func finished(since moment: Double) -> Double? {
        seconds[.finished].map { startedAt + $0 - moment }
    }
}

extension BootstrapStatus {
    enum CodingKeys: String, CodingKey {
        case slurmJobID, nodes, head, dashboard, rayPorts, startedAt, status, exitCode, submissionID, jobStatus, message, seconds
        case authentication, rayVersion, warnings, attempt, attempts
    }

    /// A status.json written before attempts existed (one attempt, none listed) reads as such: `status
    /// --job` of a job started by the previous version, and its requeue after an upgrade, still work.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        slurmJobID = try container.decode(String.self, forKey: .slurmJobID)
        nodes = try container.decode([String].self, forKey: .nodes)
        head = try container.decode(String.self, forKey: .head)
        dashboard = try container.decode(String.self, forKey: .dashboard)
        rayPorts = try container.decode(String.self, forKey: .rayPorts)
        startedAt = try container.decode(Double.self, forKey: .startedAt)
        status = try container.decode(State.self, forKey: .status)
        exitCode = try container.decode(Int32.self, forKey: .exitCode)
        submissionID = try container.decodeIfPresent(String.self, forKey: .submissionID)
        jobStatus = try container.decodeIfPresent(RayJobInfo.Status.self, forKey: .jobStatus)
        message = try container.decodeIfPresent(String.self, forKey: .message)
        seconds = try container.decodeIfPresent([Phase: Double].self, forKey: .seconds) ?? [:]
        authentication = try container.decode(RayAuthentication.self, forKey: .authentication)
        rayVersion = try container.decodeIfPresent(String.self, forKey: .rayVersion)
        warnings = try container.decodeIfPresent([String].self, forKey: .warnings) ?? []
        attempt = try container.decodeIfPresent(Int.self, forKey: .attempt) ?? 1
        attempts = try container.decodeIfPresent([Attempt].self, forKey: .attempts) ?? []
    }
}
