import Foundation

@testable import SlurmDistil

#if canImport(Glibc)
    import Glibc
#endif

/// What the fakes saw, in order: the order of a run's effects is what several tests check.
final class EventLog: Sendable {
    private let entries = Locked<[String]>([])
    func add(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.value }
    func index(of entry: String) -> Int? { all.firstIndex(of: entry) }
}

/// A clock that jumps: every sleep moves it forward at once.
final class FakeClock: RunClock {
    private let seconds = Locked(0.0)
    var now: Double { seconds.value }
    func sleep(_ duration: Double) async {
        seconds.withLock { $0 += duration }
        await Task.yield()
    }
}

/// A step that runs until it is told to stop, is killed, or reaches `exitAt` on the clock by itself.
final class FakeStep: RunningStep {
    let name: String
    let nodes: [String]
    let clock: FakeClock
    let events: EventLog
    /// Signals it ends on (SIGKILL always ends it).
    let stopsOn: Set<Int32>
    private let ended = Locked<Int32?>(nil)
    private let exitAt: (time: Double, status: Int32)?

    init(name: String, nodes: [String], clock: FakeClock, events: EventLog, stopsOn: Set<Int32> = [SIGUSR1], exitAt: (Double, Int32)? = nil) {
        self.name = name
        self.nodes = nodes
        self.clock = clock
        self.events = events
        self.stopsOn = stopsOn
        self.exitAt = exitAt.map { (time: $0.0, status: $0.1) }
    }

    var exitStatus: Int32? {
        if let status = ended.value { return status }
        if let exitAt, clock.now >= exitAt.time { return exitAt.status }
        return nil
    }

    func send(_ signal: Int32) {
        events.add("signal \(signal) to \(name)")
        if signal == SIGKILL { ended.value = 128 + SIGKILL } else if stopsOn.contains(signal) { ended.value = 0 }
    }

    func exited() async -> Int32 {
        while exitStatus == nil { await Task.yield() }
        return exitStatus!
    }
}

/// srun, as the tests script it.
final class FakeLauncher: StepLauncher {
    let clock: FakeClock
    let events: EventLog
    let folder: MemoryJobFolder
    /// Makes the step for a command; by default one that stops on SIGUSR1.
    let makeStep: @Sendable (StepCommand, FakeClock, EventLog) -> FakeStep
    let started = Locked<[FakeStep]>([])
    let environments = Locked<[[String: String]]>([])
    /// What each node prints for the shared-storage check: nil for the probe's own text, else this.
    let sharedAnswers = Locked<[String: String?]>([:])

    init(
        clock: FakeClock, events: EventLog, folder: MemoryJobFolder,
        makeStep: @escaping @Sendable (StepCommand, FakeClock, EventLog) -> FakeStep = { FakeStep(name: $0.name, nodes: $0.nodes, clock: $1, events: $2) }
    ) {
        self.clock = clock
        self.events = events
        self.folder = folder
        self.makeStep = makeStep
    }

    func start(_ step: StepCommand, environment: [String: String]) throws(Failure) -> any RunningStep {
        events.add("start \(step.name)")
        environments.withLock { $0.append(environment) }
        let fake = makeStep(step, clock, events)
        started.withLock { $0.append(fake) }
        return fake
    }

    func run(_ arguments: [String], environment: [String: String], outputPath: String, timeout: Double) async throws(Failure) -> Int32? {
        events.add("run \(arguments.dropFirst(5).prefix(2).joined(separator: " "))")
        if arguments.contains(where: { $0.contains("printf") }), let probe = folder.probeText.value {
            let lines = sharedAnswers.value.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value ?? probe)\n" }
            folder.files.withLock { $0["shared-check.txt"] = lines.joined() }
        }
        return 0
    }
}

/// Ray's head as the readiness checks see it: each part answers from a moment on the clock.
struct FakeProbe: RayClusterProbe {
    let clock: FakeClock
    var gcsAt: Double? = 1
    var dashboardAt: Double? = 3
    /// What the dashboard says of its authentication: Ray older than 2.52 has no such endpoint.
    var authentication = "token"
    /// Ray's node list at a moment; nil while the dashboard cannot say.
    var nodes: @Sendable (Double) -> [RayNode]?

    func gcsAnswers() async -> Bool { gcsAt.map { clock.now >= $0 } ?? false }
    func dashboardAnswers() async -> Bool { dashboardAt.map { clock.now >= $0 } ?? false }
    func authenticationMode() async -> String { authentication }
    func nodes() async -> [RayNode]? { nodes(clock.now) }

    /// Every node of `plan` ALIVE with its CPUs and GPUs from `at` on.
    static func allUp(_ plan: BootstrapPlan, clock: FakeClock, at: Double = 5) -> FakeProbe {
        FakeProbe(clock: clock) { now in
            now < at ? [] : plan.nodes.enumerated().map { index, node in
                RayNode(
                    nodeIP: plan.expectedAddresses[node] ?? "", isHeadNode: node == plan.head,
                    resourcesTotal: ["CPU": Double(plan.cpusPerNode[index]), "GPU": Double(plan.gpusPerNode)])
            }
        }
    }
}

/// The pipeline as a Ray job, scripted.
final class FakePipeline: PipelineService {
    enum Script: Sendable {
        /// Prints the lines, then ends with the record.
        case finish([String], RayJobInfo)
        /// Prints a line every `interval` seconds until it is cancelled.
        case keepPrinting(every: Double)
        /// Prints nothing and never ends by itself.
        case hang
        /// Prints a line every second, then ends with the record at `time`.
        case endAt(Double, RayJobInfo)
    }

    let clock: FakeClock
    let events: EventLog
    let script: Script
    let state = Locked<RayJobInfo.Status>(.pending)
    let submitted = Locked<PreparedJob?>(nil)

    init(clock: FakeClock, events: EventLog, script: Script) {
        self.clock = clock
        self.events = events
        self.script = script
    }

    func submit(_ job: PreparedJob, progress: @escaping @Sendable (String) -> Void) async throws(Failure) -> String {
        events.add("submit")
        submitted.value = job
        state.value = .running
        return "sd_fake"
    }

    func follow(_ id: String, output: @escaping @Sendable (Data) -> Void, progress: @escaping @Sendable (String) -> Void) async throws(Failure) -> RayJobInfo {
        switch script {
        case .finish(let lines, let info):
            for line in lines { output(Data((line + "\n").utf8)) }
            state.value = info.status
            return info
        case .keepPrinting(let interval):
            while !Task.isCancelled {
                output(Data("tick \(Int(clock.now))\n".utf8))
                await clock.sleep(interval)
            }
        case .hang:
            while !Task.isCancelled { await clock.sleep(1) }
        case .endAt(let time, let info):
            while !Task.isCancelled {
                if clock.now >= time {
                    state.value = info.status
                    return info
                }
                output(Data("tick \(Int(clock.now))\n".utf8))
                await clock.sleep(1)
            }
        }
        throw Failure(.runtime, "interrupted")
    }

    /// A driver that does not end on the stop signal (killed later with Ray).
    let ignoresStop = Locked(false)
    /// A driver that was writing its last rows when the stop came: it ends SUCCEEDED.
    let finishesOnStop = Locked(false)
    /// What Ray says of the job once it has ended after the stop request.
    let stopEndsAs = Locked(RayJobInfo.Status.stopped)

    func stop(_ id: String) async throws(Failure) {
        events.add("stop job")
        if ignoresStop.value { return }
        if finishesOnStop.value {
            state.value = .succeeded
            return
        }
        if stopEndsAs.value != .stopped {
            state.value = stopEndsAs.value
            return
        }
        state.value = .stopped
    }

    func job(_ id: String) async throws(Failure) -> RayJobInfo {
        var info = RayJobInfo(submissionID: id, status: state.value)
        info.driverInfo = .init(nodeIPAddress: "10.0.0.1", pid: "4242")
        return info
    }
}

/// The job folder in memory; every status.json written is kept, in order.
final class MemoryJobFolder: JobFolder {
    let path = "/shared/slurm-distil-logs/4711"
    let events: EventLog
    let statuses = Locked<[BootstrapStatus]>([])
    let token = Locked<String?>(nil)
    let log = Locked(Data())
    let files = Locked<[String: String]>([:])

    init(events: EventLog) { self.events = events }

    func create() throws(Failure) {}
    func writeToken(_ token: String) throws(Failure) { self.token.value = token }

    func write(_ status: BootstrapStatus) -> Bool {
        events.add("status \(status.status.rawValue)")
        statuses.withLock { $0.append(status) }
        return true
    }

    func openPipelineLog() -> (any OutputSink)? { MemorySink(data: log) }
    func tail(ofNode node: String, lines: Int) -> String { "log of \(node)" }
    let probeText = Locked<String?>(nil)

    func writeProbe(_ text: String, into folder: String, jobID: String) -> String? {
        probeText.value = text
        return "\(folder)/probe"
    }
    func removeProbe(_ path: String) {}
    func read(_ name: String) -> String { files.value[name] ?? "" }
    /// The status.json a previous attempt left.
    let previous = Locked<BootstrapStatus?>(nil)
    func readStatus() -> BootstrapStatus? { previous.value }
    let archived = Locked<[Int]>([])
    func archiveAttempt(_ number: Int) -> [String] {
        archived.withLock { $0.append(number) }
        return ["pipeline.log"]
    }

    var last: BootstrapStatus? { statuses.value.last }
}

struct MemorySink: OutputSink {
    let data: Locked<Data>
    func write(_ chunk: Data) { data.withLock { $0.append(chunk) } }
    func close() {}
}

final class RecordingConsole: BootstrapConsole {
    let lines = Locked<[String]>([])
    let output = Locked(Data())
    func say(_ text: String) { lines.withLock { $0.append(text) } }
    func pipelineOutput(_ data: Data) { output.withLock { $0.append(data) } }
    var text: String { lines.value.joined(separator: "\n") }
}

/// Slurm's view of the job, scripted; requeue and exclude are recorded in the event log.
final class FakeSlurm: SlurmJobControl {
    let events: EventLog
    let record: Locked<SlurmJobRecord>

    init(events: EventLog, line: String) {
        self.events = events
        record = Locked(try! SlurmJobRecord(parsing: line))
    }

    func job(_ id: String) async throws(Failure) -> SlurmJobRecord { record.value }
    func exclude(_ nodes: [String], from id: String, already: String?) async throws(Failure) {
        events.add("exclude \(nodes.joined(separator: ",")) from \(id) (already \(already ?? "none"))")
    }
    let requeueFails = Locked(false)
    func requeue(_ id: String) async throws(Failure) {
        if requeueFails.value { throw Failure(.runtime, "scontrol could not requeue job \(id) (status 1): Requested operation is presently disabled") }
        events.add("requeue \(id)")
    }
}

final class RecordingResumeState: ResumeState {
    let calls = Locked<[Bool]>([])
    func prepare(previousAttemptResumable: Bool) -> [String] {
        calls.withLock { $0.append(previousAttemptResumable) }
        return ["cache repaired"]
    }
}
