import Foundation
import Testing

@testable import SlurmDistil

#if canImport(Glibc)
    import Glibc
#endif

/// Time limit, preemption and node loss: the decision, and a run that stops gracefully and requeues.
@Suite struct RequeueTests {
    typealias Harness = BootstrapRunTests.Harness
    let plan = BootstrapRunTests.plan(rayVersion: "2.60.0")
    /// 1_700_000_000 (the harness's wall clock) is 2023-11-14T22:13:20 UTC.
    static let utc = TimeZone(identifier: "UTC")!

    static func record(state: String = "RUNNING", requeue: Bool = true, preempted: Bool = false, end: String = "2023-11-14T22:15:20") -> String {
        "JobId=4711 JobName=job UserId=root(0) JobState=\(state) Reason=None Requeue=\(requeue ? 1 : 0) Restarts=0 "
            + "EndTime=\(end) PreemptEligibleTime=2023-11-14T22:00:00 PreemptTime=\(preempted ? "2023-11-14T22:13:00" : "None") "
            + "NodeList=n[1-3] ExcNodeList=(null) WorkDir=/work Command=/work/job.sh"
    }

    @Test func slurmsRecordSaysWhetherTheJobComesBackAndWhenItEnds() throws {
        let record = try SlurmJobRecord(parsing: Self.record(preempted: true))
        #expect(record.requeueable && record.preemptTime == "2023-11-14T22:13:00" && record.excludedNodes == nil)
        #expect(record.secondsLeft(now: Date(timeIntervalSince1970: 1_700_000_000), timeZone: Self.utc) == 120)
        let plain = try SlurmJobRecord(parsing: Self.record(requeue: false).replacingOccurrences(of: "ExcNodeList=(null)", with: "ExcNodeList=n2"))
        #expect(!plain.requeueable && plain.preemptTime == nil && plain.excludedNodes == "n2")
    }

    @Test func theDecisionFollowsSlurmsViewOfTheJob() throws {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let policy = RequeuePolicy(maxRestarts: 2)
        func decide(_ line: String, restarts: Int = 0, policy: RequeuePolicy = policy, signal: Int32 = SIGTERM, left: Double = 120) -> RequeueDecision? {
            var record = try! SlurmJobRecord(parsing: line)
            // The record's times are UTC here; secondsLeft reads them in the local zone.
            record.endTime = record.endTime.map { _ in
                let format = DateFormatter()
                format.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
                return format.string(from: now.addingTimeInterval(left))
            }
            return RequeueDecision.afterSignal(signal, policy: policy, restarts: restarts, record: record, now: now)
        }
        #expect(decide(Self.record()) == RequeueDecision(reason: .timeLimit, drainSeconds: 120 - RequeueDecision.reserveSeconds))
        #expect(RequeueDecision.reserveSeconds > 20, "more than the teardown's grace period: the requeue needs its time too")
        #expect(decide(Self.record(), signal: SIGINT) == nil, "Ctrl-C is a user's stop")
        #expect(decide(Self.record(), left: 5 * 3600) == nil, "hours before the limit, SIGTERM is someone's scancel --signal=TERM")
        #expect(decide(Self.record(), restarts: 2) == nil, "no restarts left: the run ends as before")
        #expect(decide(Self.record(state: "CANCELLED")) == nil, "scancel is the user's wish to stop")
        #expect(decide(Self.record(preempted: true), restarts: 5)?.reason == .preempted, "Slurm's requeue is not bounded by --max-restarts")
        #expect(decide(Self.record(requeue: false, preempted: true)) == nil, "a job without --requeue does not come back")
        #expect(RequeueDecision.afterSignal(SIGTERM, policy: policy, restarts: 0, record: nil, now: now) == nil, "Slurm not reachable: end as before")
        let lost = RequeueDecision.afterNodeLoss(policy: RequeuePolicy(maxRestarts: 1, onNodeLoss: .requeue), restarts: 0, lostNodes: ["n3"])
        #expect(lost == RequeueDecision(reason: .nodeLost(["n3"]), drainSeconds: 0))
        #expect(RequeueDecision.afterNodeLoss(policy: policy, restarts: 0, lostNodes: ["n3"]) == nil, "--on-node-loss fail")
        #expect(RequeueDecision.afterNodeLoss(policy: RequeuePolicy(maxRestarts: 1, onNodeLoss: .requeue), restarts: 1, lostNodes: ["n3"]) == nil, "no restarts left")
    }

    @Test func theAttemptSeesItsNumberAndACacheFolderUnlessItHasItsOwn() {
        let plain = AttemptEnvironment.runtimeEnv(nil, attempt: 2, distilabelCache: "/shared/jobs/4711/distilabel-cache")
        #expect(plain == .object(["env_vars": .object(["SLURM_DISTIL_ATTEMPT": .string("2"), "DISTILABEL_CACHE_DIR": .string("/shared/jobs/4711/distilabel-cache")])]))
        let own: JSONValue = .object(["pip": .array([.string("x")]), "env_vars": .object(["DISTILABEL_CACHE_DIR": .string("/mine")])])
        #expect(AttemptEnvironment.distilabelCache(jobFolder: "/j", environment: [:], runtimeEnv: own) == "/mine")
        #expect(AttemptEnvironment.distilabelCache(jobFolder: "/j", environment: ["DISTILABEL_CACHE_DIR": "/env"], runtimeEnv: nil) == "/env")
        #expect(AttemptEnvironment.distilabelCache(jobFolder: "/j", environment: [:], runtimeEnv: nil) == "/j/distilabel-cache")
        let kept = AttemptEnvironment.runtimeEnv(own, attempt: 1, distilabelCache: "/j/distilabel-cache")
        #expect(
            kept == .object(["pip": .array([.string("x")]), "env_vars": .object(["DISTILABEL_CACHE_DIR": .string("/mine"), "SLURM_DISTIL_ATTEMPT": .string("1")])]))
    }

    static let everyNodeSeesTheJobFolder: [String: String?] = ["n1": nil, "n2": nil, "n3": nil]

    /// The end time two minutes after the harness's wall clock, written in the local zone as scontrol does.
    static var endInTwoMinutes: String {
        let format = DateFormatter()
        format.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        return format.string(from: Date(timeIntervalSince1970: 1_700_000_120))
    }

    @Test func theTimeLimitSignalStopsGracefullyTearsDownThenRequeues() async throws {
        let harness = Self.timeLimitHarness()
        let ended = await Self.interrupt(harness)
        #expect(ended.exitCode == ExitKind.requeued.code && ended.failure == nil)
        #expect(ended.status.status == .requeued)
        let attempt = try #require(ended.status.attempts.first)
        #expect(ended.status.attempts.count == 1 && attempt.number == 1 && attempt.requeueReason == "time limit")
        #expect(attempt.stoppedGracefully == true && attempt.resumable == true && attempt.status == .requeued && attempt.submissionID == "sd_fake")
        let events = harness.events.all
        let stop = try #require(events.firstIndex(of: "stop job"))
        let teardown = try #require(events.firstIndex(of: "signal \(SIGUSR1) to workers"))
        let requeue = try #require(events.firstIndex(of: "requeue 4711"))
        #expect(stop < teardown && teardown < requeue, "Ray is gone before Slurm ends the allocation: \(events)")
        #expect(harness.console.text.contains("time limit: stopping the pipeline gracefully (up to \(Int(120 - RequeueDecision.reserveSeconds)) s"))
        // The job folder was checked as shared, and the pipeline got the attempt and the cache folder.
        #expect(events.contains { $0.hasPrefix("run ") })
        let runtimeEnv = try #require(harness.pipeline.submitted.value?.submission.runtimeEnv)
        #expect(AttemptEnvironment.runtimeEnvVariable("SLURM_DISTIL_ATTEMPT", in: runtimeEnv) == "1")
        #expect(AttemptEnvironment.runtimeEnvVariable("DISTILABEL_CACHE_DIR", in: runtimeEnv) == "/shared/slurm-distil-logs/4711/distilabel-cache")
        let environment = try #require(harness.launcher.environments.value.first)
        #expect(environment["RAY_JOB_STOP_SIGNAL"] == "SIGINT", "Ray's stop lets distilabel write its cache")
    }

    @Test func aPipelineThatDoesNotStopInTimeIsMarkedSoAndStillRequeued() async throws {
        let harness = Self.timeLimitHarness { $0.requeue = RequeuePolicy(maxRestarts: 1) }
        harness.pipeline.ignoresStop.value = true
        let run = harness.run
        let outcome = Task { await run.run() }
        while harness.console.output.value.isEmpty { await Task.yield() }
        let signalled = harness.clock.now
        run.requestTermination(signal: SIGTERM)
        let ended = await outcome.value
        #expect(ended.status.status == .requeued && ended.status.attempts.first?.stoppedGracefully == false)
        #expect(harness.clock.now - signalled >= 120 - RequeueDecision.reserveSeconds, "waited the whole drain time")
        #expect(harness.events.all.contains("requeue 4711"))
    }

    @Test func aPipelineThatFinishesWhileBeingStoppedIsNotRequeued() async throws {
        let harness = Self.timeLimitHarness { $0.requeue = RequeuePolicy(maxRestarts: 1) }
        harness.pipeline.finishesOnStop.value = true
        let ended = await Self.interrupt(harness)
        #expect(ended.exitCode == 0 && ended.status.status == .succeeded && ended.status.attempts.first?.status == .succeeded)
        #expect(!harness.events.all.contains { $0.hasPrefix("requeue") })
    }

    @Test func aLostHeadIsExcludedAndTheNextAttemptStartsOver() async throws {
        let harness = Self.nodeLossHarness(RequeuePolicy(maxRestarts: 1, onNodeLoss: .requeue), dying: "head")
        harness.folder.files.withLock { $0["ray-n1.log"] = "slurm-distil node: n1: Ray exited by itself with status 1" }
        let ended = await harness.run.run()
        #expect(ended.status.status == .requeued && ended.status.attempts.first?.requeueReason == "node lost: n1")
        #expect(ended.status.attempts.first?.stoppedGracefully == false, "the driver died with the head: its cache is not trusted")
        #expect(!harness.events.all.contains("stop job"), "no dashboard to ask")
        #expect(harness.events.all.contains("exclude n1 from 4711 (already none)"))
    }

    @Test func scancelIsNotARequeue() async throws {
        let harness = Self.timeLimitHarness(line: Self.record(state: "CANCELLED"))
        let ended = await Self.interrupt(harness)
        #expect(ended.exitCode == 143 && ended.status.status == .terminated)
        #expect(!harness.events.all.contains { $0.hasPrefix("requeue") })
        #expect(ended.status.attempts.first?.status == .terminated && ended.status.attempts.first?.requeueReason == nil)
    }

    @Test func aLostNodeIsExcludedAndTheJobRequeued() async throws {
        let harness = Self.nodeLossHarness(RequeuePolicy(maxRestarts: 1, onNodeLoss: .requeue), dying: "workers")
        harness.folder.files.withLock {
            $0["ray-n2.log"] = "slurm-distil node: n2: signal 15: stopping this node's Ray"
            $0["ray-n3.log"] = "slurm-distil node: n3: Ray exited by itself with status 1"
        }
        let ended = await harness.run.run()
        #expect(ended.exitCode == ExitKind.requeued.code && ended.status.status == .requeued)
        #expect(ended.status.attempts.first?.requeueReason == "node lost: n3")
        #expect(ended.status.attempts.first?.resumable == false, "a batch in flight on n3 is lost: the next attempt starts over")
        let events = harness.events.all
        #expect(events.contains("exclude n3 from 4711 (already none)"), "\(events)")
        let exclude = try #require(events.firstIndex { $0.hasPrefix("exclude") })
        #expect(events.firstIndex(of: "requeue 4711")! < exclude, "Slurm changes a pending job's ExcNodeList only")
        #expect(harness.events.all.contains("stop job"))
    }

    @Test func aLostNodeThatCannotBeToldIsNotGuessed() async throws {
        let harness = Self.nodeLossHarness(RequeuePolicy(maxRestarts: 1, onNodeLoss: .requeue), dying: "workers")
        let ended = await harness.run.run()
        #expect(ended.status.status == .requeued && ended.status.attempts.first?.requeueReason == "node lost (which one could not be told)")
        #expect(harness.events.all.contains("requeue 4711") && !harness.events.all.contains { $0.hasPrefix("exclude") }, "healthy nodes are not excluded")
    }

    /// Measured on the cluster: the driver failed on the lost node's actor before n2's agent had seen
    /// its Ray exit, and the run ended FAILED instead of being requeued.
    @Test func aPipelineThatFailsJustBeforeItsNodeIsSeenLostIsStillRequeued() async throws {
        let failed = RayJobInfo(status: .failed, driverExitCode: 1)
        let harness = Self.nodeLossHarness(RequeuePolicy(maxRestarts: 1, onNodeLoss: .requeue), dying: "workers", script: .endAt(57, failed))
        harness.folder.files.withLock { $0["ray-n3.log"] = "slurm-distil node: n3: Ray exited by itself with status 1" }
        let ended = await harness.run.run()
        #expect(ended.exitCode == ExitKind.requeued.code && ended.status.attempts.first?.requeueReason == "node lost: n3", "\(ended)")
        #expect(harness.console.text.contains("pipeline ended FAILED; waiting up to 15 s for the nodes to say whether one was lost"))

        // Without node-loss requeue a failed pipeline is the end, at once.
        let plain = Self.nodeLossHarness(RequeuePolicy(maxRestarts: 1), dying: "workers", script: .endAt(57, failed))
        let outcome = await plain.run.run()
        #expect(outcome.status.status == .failed && outcome.exitCode == 1, "\(outcome)")
        #expect(plain.clock.now < 59, "no wait for a lost node that would change nothing")
    }

    @Test func withoutNodeLossRequeueALostNodeFailsTheRunAsBefore() async throws {
        let harness = Self.nodeLossHarness(RequeuePolicy(maxRestarts: 1), dying: "workers")
        let ended = await harness.run.run()
        #expect(ended.exitCode == 1 && ended.status.status == .bootstrapFailed)
        #expect(!harness.events.all.contains { $0.hasPrefix("requeue") })
    }

    @Test func theNextAttemptKeepsTheEarlierOnesMovesTheirLogsAndPreparesTheCache() async throws {
        var settings = BootstrapRunSettings()
        settings.requeue = RequeuePolicy(maxRestarts: 2)
        settings.restarts = 1
        var previous = BootstrapStatus(plan: plan, startedAt: 1_699_999_000)
        var first = BootstrapStatus.Attempt(number: 1, startedAt: 1_699_999_000, nodes: plan.nodes)
        first.status = .requeued
        first.requeueReason = "time limit"
        first.stoppedGracefully = true
        first.resumable = true
        first.submissionID = "sd_1"
        first.endedAt = 1_699_999_500
        previous.attempts = [first]
        let resume = RecordingResumeState()
        let harness = Harness(
            plan: plan, script: .finish(["done"], BootstrapRunTests.succeeded), settings: settings,
            slurm: { events in FakeSlurm(events: events, line: Self.record()) }, resumeState: resume, previous: previous)
        harness.launcher.sharedAnswers.value = Self.everyNodeSeesTheJobFolder
        let ended = await harness.run.run()
        #expect(ended.exitCode == 0 && ended.status.status == .succeeded && ended.status.attempt == 2)
        #expect(ended.status.attempts.map(\.number) == [1, 2])
        #expect(ended.status.attempts[0] == first, "the earlier attempt is kept as it was written")
        #expect(ended.status.attempts[1].status == .succeeded && ended.status.attempts[1].resume.contains("cache repaired"))
        #expect(harness.folder.archived.value == [1])
        #expect(resume.calls.value == [true])
        let runtimeEnv = try #require(harness.pipeline.submitted.value?.submission.runtimeEnv)
        #expect(AttemptEnvironment.runtimeEnvVariable("SLURM_DISTIL_ATTEMPT", in: runtimeEnv) == "2")
    }

    @Test func anAttemptKilledOutrightIsNotTrustedForResume() async throws {
        var settings = BootstrapRunSettings()
        settings.restarts = 1
        var previous = BootstrapStatus(plan: plan, startedAt: 1_699_999_000)
        var first = BootstrapStatus.Attempt(number: 1, startedAt: 1_699_999_000, nodes: plan.nodes)
        first.status = .running
        previous.attempts = [first]
        let resume = RecordingResumeState()
        let harness = Harness(
            plan: plan, script: .finish([], BootstrapRunTests.succeeded), settings: settings,
            slurm: { events in FakeSlurm(events: events, line: Self.record()) }, resumeState: resume, previous: previous)
        harness.launcher.sharedAnswers.value = Self.everyNodeSeesTheJobFolder
        let ended = await harness.run.run()
        #expect(resume.calls.value == [false])
        #expect(ended.status.attempts[0].stoppedGracefully == false && ended.status.attempts[0].requeueReason?.contains("killed outright") == true)
    }

    /// Runs until the pipeline prints, then sends `signal`.
    static func interrupt(_ harness: Harness, with signal: Int32 = SIGTERM) async -> BootstrapOutcome {
        let run = harness.run
        let outcome = Task { await run.run() }
        while harness.console.output.value.isEmpty { await Task.yield() }
        run.requestTermination(signal: signal)
        return await outcome.value
    }

    /// The `dying` step's Ray ends by itself 60 s into the run.
    static func nodeLossHarness(_ policy: RequeuePolicy, dying: String, script: FakePipeline.Script = .keepPrinting(every: 1)) -> Harness {
        var settings = BootstrapRunSettings()
        settings.requeue = policy
        let harness = Harness(
            plan: BootstrapRunTests.plan(rayVersion: "2.60.0"), script: script, settings: settings,
            makeStep: { step, clock, events in
                FakeStep(name: step.name, nodes: step.nodes, clock: clock, events: events, exitAt: step.name == dying ? (60, 1) : nil)
            }, slurm: { events in FakeSlurm(events: events, line: record(end: endInTwoMinutes)) })
        harness.launcher.sharedAnswers.value = everyNodeSeesTheJobFolder
        return harness
    }

    static func timeLimitHarness(_ configure: (inout BootstrapRunSettings) -> Void = { _ in }, line: String = record(end: endInTwoMinutes)) -> Harness {
        var settings = BootstrapRunSettings()
        settings.requeue = RequeuePolicy(maxRestarts: 2)
        configure(&settings)
        let harness = Harness(
            plan: BootstrapRunTests.plan(rayVersion: "2.60.0"), script: .keepPrinting(every: 1), settings: settings,
            slurm: { events in FakeSlurm(events: events, line: line) })
        harness.launcher.sharedAnswers.value = everyNodeSeesTheJobFolder
        return harness
    }

    @Test func aDriverThatDiesInsteadOfStoppingIsNotResumedFrom() async throws {
        let harness = Self.timeLimitHarness()
        harness.pipeline.stopEndsAs.value = .failed
        let ended = await Self.interrupt(harness)
        let first = try #require(ended.status.attempts.first)
        #expect(ended.status.status == .requeued && first.stoppedGracefully == false && first.resumable == false, "\(first)")
        #expect(harness.console.text.contains("the pipeline ended FAILED, not stopped by the signal"))
    }

    @Test func aUsersCtrlCIsNotARequeue() async throws {
        let ended = await Self.interrupt(Self.timeLimitHarness(), with: SIGINT)
        #expect(ended.exitCode == 143 && ended.status.status == .terminated)
    }

    @Test func aPreemptionIsRequeuedByBootstrapWhateverTheRestartsLeft() async throws {
        let harness = Self.timeLimitHarness({ $0.restarts = 7 }, line: Self.record(preempted: true, end: Self.endInTwoMinutes))
        let ended = await Self.interrupt(harness)
        #expect(ended.status.status == .requeued && ended.status.attempts.last?.requeueReason == "preempted")
        #expect(harness.events.all.contains("requeue 4711"))
        let environment = try #require(harness.launcher.environments.value.first)
        #expect(environment["RAY_JOB_STOP_SIGNAL"] == "SIGINT", "a requeueable job's Ray stops its driver with SIGINT")
    }

    @Test func aRequeueThatFailsEndsTheRunAndSaysSo() async throws {
        let harness = Self.timeLimitHarness()
        harness.slurm?.requeueFails.value = true
        let ended = await Self.interrupt(harness)
        #expect(ended.exitCode == 143 && ended.status.status == .terminated && ended.failure != nil)
        #expect(ended.status.message?.contains("could not requeue job 4711") == true)
        #expect(ended.status.attempts.first?.status == .terminated)
    }

    @Test func anAttemptThatSubmittedNothingLeavesTheCacheAsItWas() async throws {
        var settings = BootstrapRunSettings()
        settings.restarts = 2
        let plan = BootstrapRunTests.plan(rayVersion: "2.60.0")
        var previous = BootstrapStatus(plan: plan, startedAt: 1_699_999_000)
        var first = BootstrapStatus.Attempt(number: 1, startedAt: 1_699_990_000, nodes: plan.nodes)
        (first.status, first.submissionID, first.resumable, first.endedAt) = (.requeued, "sd_1", true, 1_699_991_000)
        var second = BootstrapStatus.Attempt(number: 2, startedAt: 1_699_999_000, nodes: plan.nodes)
        (second.status, second.endedAt) = (.requeued, 1_699_999_100)
        previous.attempts = [first, second]
        let resume = RecordingResumeState()
        let harness = Harness(
            plan: plan, script: .finish([], BootstrapRunTests.succeeded), settings: settings,
            slurm: { events in FakeSlurm(events: events, line: Self.record()) }, resumeState: resume, previous: previous)
        harness.launcher.sharedAnswers.value = Self.everyNodeSeesTheJobFolder
        _ = await harness.run.run()
        #expect(resume.calls.value == [true], "attempt 2 was preempted while Ray started: attempt 1's cache still resumes")
    }

    @Test func aStatusFileOfThePreviousVersionIsRead() throws {
        let old = #"{"authentication":"token","dashboard":"http://10.0.0.1:20001","exitCode":0,"head":"n1","nodes":["n1","n2"],"rayPorts":"20000-20199","seconds":{"gcsReady":3.1},"slurmJobID":"4711","startedAt":1700000000,"status":"RUNNING","submissionID":"sd_x","warnings":[]}"#
        let status = try JSONDecoder().decode(BootstrapStatus.self, from: Data(old.utf8))
        #expect(status.attempt == 1 && status.attempts.isEmpty && status.submissionID == "sd_x" && status.seconds[.gcsReady] == 3.1)
        let again = try JSONDecoder().decode(BootstrapStatus.self, from: JSONEncoder().encode(status))
        #expect(again == status)
    }

    @Test func anAttemptsLogsMoveIntoItsFolderOnDisk() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sd-archive-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let folder = DiskJobFolder(path: root)
        try folder.create()
        for name in ["pipeline.log", "ray-n1.log", "ray-n2.log", "status.json", "token", "notes.txt"] {
            FileManager.default.createFile(atPath: "\(root)/\(name)", contents: Data(name.utf8))
        }
        try FileManager.default.createDirectory(atPath: root + "/distilabel-cache", withIntermediateDirectories: true)
        #expect(folder.archiveAttempt(1) == ["pipeline.log", "ray-n1.log", "ray-n2.log"])
        #expect(try String(contentsOfFile: root + "/attempt-1/ray-n2.log", encoding: .utf8) == "ray-n2.log")
        let left = try FileManager.default.contentsOfDirectory(atPath: root).sorted()
        #expect(left == ["attempt-1", "distilabel-cache", "notes.txt", "status.json", "token"], "status, token, cache and the user's files stay")
        #expect(folder.archiveAttempt(2) == [], "nothing left to move")
    }

    @Test func theBootstrapFlagsAreChecked() throws {
        #expect(try RequeuePolicy(checkingMaxRestarts: 3, onNodeLoss: "requeue") == RequeuePolicy(maxRestarts: 3, onNodeLoss: .requeue))
        #expect(throws: Failure.self) { try RequeuePolicy(checkingMaxRestarts: 0, onNodeLoss: "requeue") }
        #expect(throws: Failure.self) { try RequeuePolicy(checkingMaxRestarts: 1, onNodeLoss: "retry") }
        #expect(throws: Failure.self) { try RequeuePolicy(checkingMaxRestarts: -1, onNodeLoss: "fail") }
    }
}
