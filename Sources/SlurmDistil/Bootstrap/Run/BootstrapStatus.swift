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
