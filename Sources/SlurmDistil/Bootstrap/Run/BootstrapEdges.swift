import Foundation

/// A long-running srun step bootstrap started (the head's, or all workers' in one).
public protocol RunningStep: Sendable {
    var name: String { get }
    var nodes: [String] { get }
    /// nil while it runs.
    var exitStatus: Int32? { get }
    func send(_ signal: Int32)
    func exited() async -> Int32
}

/// Starts srun steps.
public protocol StepLauncher: Sendable {
    func start(_ step: StepCommand, environment: [String: String]) throws(Failure) -> any RunningStep
    /// Runs a short step on every node to its end, its output into `outputPath`; returns its exit status.
    /// A step still running after `timeout` seconds is killed, and nil returned.
    func run(_ arguments: [String], environment: [String: String], outputPath: String, timeout: Double) async throws(Failure) -> Int32?
}

/// What tells whether Ray is up: the head's GCS port, the dashboard, and Ray's own list of nodes.
public protocol RayClusterProbe: Sendable {
    func gcsAnswers() async -> Bool
    func dashboardAnswers() async -> Bool
    /// What the dashboard says of its own authentication ("token"; anything else is none).
    func authenticationMode() async -> String
    /// Ray's nodes, nil while the dashboard cannot say.
    func nodes() async -> [RayNode]?
}

/// The pipeline as a Ray job.
public protocol PipelineService: Sendable {
    func submit(_ job: PreparedJob, progress: @escaping @Sendable (String) -> Void) async throws(Failure) -> String
    /// Follows the job to its end; its output goes to `output` as it comes.
    func follow(_ id: String, output: @escaping @Sendable (Data) -> Void, progress: @escaping @Sendable (String) -> Void)
        async throws(Failure) -> RayJobInfo
    func stop(_ id: String) async throws(Failure)
    func job(_ id: String) async throws(Failure) -> RayJobInfo
}

/// Where output goes that must survive the job.
public protocol OutputSink: Sendable {
    func write(_ data: Data)
    func close()
}

extension OutputFile: OutputSink {}

/// The job's folder on shared storage: token, status.json, pipeline.log, the nodes' Ray logs.
public protocol JobFolder: Sendable {
    var path: String { get }
    func create() throws(Failure)
    /// Writes the token readable by its owner only, from the first byte on.
    func writeToken(_ token: String) throws(Failure)
    /// False when status.json could not be written.
    func write(_ status: BootstrapStatus) -> Bool
    func openPipelineLog() -> (any OutputSink)?
    /// The last lines of a node's Ray log, for error messages.
    func tail(ofNode node: String, lines: Int) -> String
    /// Writes a probe file into a folder that must be shared (`--require-shared`); nil when it cannot.
    func writeProbe(_ text: String, into folder: String, jobID: String) -> String?
    func removeProbe(_ path: String)
    /// A file of the job folder; empty when it is missing.
    func read(_ name: String) -> String
    /// The status.json an earlier attempt left; nil when there is none or it does not parse.
    func readStatus() -> BootstrapStatus?
    /// Moves an attempt's logs (pipeline.log, ray-NODE.log, ...) into attempt-N/; returns their names.
    func archiveAttempt(_ number: Int) -> [String]
}

/// The pipeline's own record of its progress (distilabel's cache), carried from one attempt to the next.
public protocol ResumeState: Sendable {
    /// Before a resumed attempt: makes the state safe to resume from. Returns what was done, in words.
    func prepare(previousAttemptResumable: Bool) -> [String]
}

/// Nothing to carry over.
public struct NoResumeState: ResumeState {
    public init() {}
    public func prepare(previousAttemptResumable: Bool) -> [String] { [] }
}

/// What bootstrap says while it works (stderr), and the pipeline's own output (stdout).
public protocol BootstrapConsole: Sendable {
    func say(_ text: String)
    func pipelineOutput(_ data: Data)
}

/// Everything the run touches outside its own memory.
public struct BootstrapEdges: Sendable {
    public var launcher: any StepLauncher
    public var probe: any RayClusterProbe
    public var pipeline: any PipelineService
    public var folder: any JobFolder
    public var clock: any RunClock
    public var console: any BootstrapConsole
    /// Wall-clock seconds since 1970, for status.json's `startedAt`.
    public var wallClock: @Sendable () -> Double
    /// Slurm's view of this job, and its requeue; nil where no Slurm is asked (then nothing is requeued).
    public var slurm: (any SlurmJobControl)?
    public var resumeState: any ResumeState

    public init(
        launcher: any StepLauncher, probe: any RayClusterProbe, pipeline: any PipelineService, folder: any JobFolder,
        clock: any RunClock, console: any BootstrapConsole, wallClock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
        slurm: (any SlurmJobControl)? = nil, resumeState: any ResumeState = NoResumeState()
    ) {
        self.slurm = slurm
        self.resumeState = resumeState
        self.launcher = launcher
        self.probe = probe
        self.pipeline = pipeline
        self.folder = folder
        self.clock = clock
        self.console = console
        self.wallClock = wallClock
    }
}
