import Foundation
import Testing

@testable import SlurmDistil

#if canImport(Glibc)
    import Glibc
#endif

/// Every outcome of a bootstrap run, with fake edges and a clock that jumps: no cluster, no Ray.
@Suite struct BootstrapRunTests {
    let plan: BootstrapPlan = {
        Self.plan(rayVersion: "2.60.0")
    }()

    static func plan(rayVersion: String?) -> BootstrapPlan {
        let allocation = try! Allocation(
            environment: ["SLURM_JOB_ID": "4711", "SLURM_JOB_NODELIST": "n[1-3]", "SLURM_JOB_NUM_NODES": "3", "SLURM_JOB_CPUS_PER_NODE": "4(x3)",
                "SLURM_GPUS_ON_NODE": "1", "SLURMD_NODENAME": "n1"])
        var plan = try! BootstrapPlan.make(
            allocation: allocation, options: BootstrapOptions(launcher: "/opt/sd", jobFolder: "/shared/slurm-distil-logs/4711"),
            headAddress: "10.0.0.1", ports: RayPorts.block(jobID: "4711"),
            expectedAddresses: ["n1": "10.0.0.1", "n2": "10.0.0.2", "n3": "10.0.0.3"])
        plan.rayVersion = rayVersion.flatMap(RayVersion.init)
        return plan
    }

    /// One run's fakes, wired together.
    struct Harness {
        let clock = FakeClock()
        let events = EventLog()
        let console = RecordingConsole()
        let folder: MemoryJobFolder
        let launcher: FakeLauncher
        let pipeline: FakePipeline
        let slurm: FakeSlurm?
        let run: BootstrapRun

        init(
            plan: BootstrapPlan, script: FakePipeline.Script, settings: BootstrapRunSettings = BootstrapRunSettings(),
            probe: ((BootstrapPlan, FakeClock) -> FakeProbe)? = nil,
            makeStep: (@Sendable (StepCommand, FakeClock, EventLog) -> FakeStep)? = nil,
            token: String? = "t0ken-of-this-job-0123456789abcdef", warnings: [String] = [],
            slurm: ((EventLog) -> FakeSlurm)? = nil, resumeState: any ResumeState = NoResumeState(), previous: BootstrapStatus? = nil
        ) {
            let (clock, events) = (clock, events)
            let folder = MemoryJobFolder(events: events)
            folder.previous.value = previous
            self.folder = folder
            launcher = makeStep.map { FakeLauncher(clock: clock, events: events, folder: folder, makeStep: $0) }
                ?? FakeLauncher(clock: clock, events: events, folder: folder)
            pipeline = FakePipeline(clock: clock, events: events, script: script)
            let slurm = slurm?(events)
            self.slurm = slurm
            let edges = BootstrapEdges(
                launcher: launcher, probe: probe?(plan, clock) ?? FakeProbe.allUp(plan, clock: clock), pipeline: pipeline, folder: folder,
                clock: clock, console: console, wallClock: { 1_700_000_000 }, slurm: slurm, resumeState: resumeState)
            let job = try! JobSubmitter.prepare(JobRequest(entrypoint: ["python", "-u", "p.py"]), currentDirectory: "/work")
            run = BootstrapRun(plan: plan, job: job, settings: settings, edges: edges, token: token, warnings: warnings)
        }
    }

    static let succeeded = RayJobInfo(submissionID: "sd_fake", status: .succeeded)

    @Test func successRunsThePhasesInOrderAndKeepsTheStatusAtEachPhase() async throws {
        let harness = Harness(plan: plan, script: .finish(["hello", "secret t0ken-of-this-job-0123456789abcdef"], Self.succeeded))
        let outcome = await harness.run.run()
        #expect(outcome.exitCode == 0 && outcome.failure == nil)
        #expect(
            harness.events.all == [
                "status STARTING", "start head", "start workers", "submit", "status RUNNING", "status SUCCEEDED",
                "signal \(SIGUSR1) to workers", "signal \(SIGUSR1) to head", "status SUCCEEDED",
            ])
        let statuses = harness.folder.statuses.value
        #expect(statuses.first?.submissionID == nil)
        #expect(statuses[1].submissionID == "sd_fake" && statuses[1].seconds[.submitted] != nil)
        let last = try #require(harness.folder.last)
        #expect(Set(last.seconds.keys) == Set(BootstrapStatus.Phase.allCases))
        #expect(last.seconds[.gcsReady]! <= last.seconds[.headReady]! && last.seconds[.headReady]! <= last.seconds[.rayReady]!)
        #expect(last.jobStatus == .succeeded && last.startedAt == 1_700_000_000)
        let output = String(decoding: harness.console.output.value, as: UTF8.self)
        #expect(output == "hello\nsecret ***\n", "the job's token never reaches the output")
        #expect(harness.folder.log.value == harness.console.output.value, "pipeline.log holds what the batch output shows")
        #expect(harness.folder.token.value == "t0ken-of-this-job-0123456789abcdef")
        let environment = try #require(harness.launcher.environments.value.first)
        #expect(environment["RAY_AUTH_MODE"] == "token" && environment["RAY_AUTH_TOKEN"] == "t0ken-of-this-job-0123456789abcdef")
        #expect(harness.pipeline.submitted.value?.submission.metadata == nil, "the planner adds metadata, not the run")
    }

    @Test func thePipelinesOwnExitCodeBecomesTheBatchJobs() async throws {
        let failed = RayJobInfo(submissionID: "sd_fake", status: .failed, driverExitCode: 3, message: "exit 3")
        let outcome = await Harness(plan: plan, script: .finish([], failed)).run.run()
        #expect(outcome.exitCode == 3 && outcome.failure == nil)
        #expect(outcome.status.status == .failed && outcome.status.message == "exit 3")
        let stopped = await Harness(plan: plan, script: .finish([], RayJobInfo(status: .stopped))).run.run()
        #expect(stopped.exitCode == ExitKind.jobStopped.code && stopped.status.status == .stopped)
    }

    @Test func aHeadStepThatExitsWhileStartingFailsAtOnceNamingItsNode() async throws {
        let harness = Harness(plan: plan, script: .hang, probe: { plan, clock in
            var probe = FakeProbe.allUp(plan, clock: clock)
            probe.gcsAt = nil
            return probe
        }) { step, clock, events in
            FakeStep(name: step.name, nodes: step.nodes, clock: clock, events: events, exitAt: step.name == "head" ? (2, 1) : nil)
        }
        let outcome = await harness.run.run()
        let failure = try #require(outcome.failure)
        #expect(failure.kind == .runtime && outcome.exitCode == 1)
        #expect(failure.message.contains("the head step (n1) exited with status 1 while Ray was starting"))
        #expect(failure.message.contains("log of n1"), "the end of the node's Ray log is shown")
        #expect(harness.clock.now < 3, "found at once, not at the ready timeout")
        #expect(!harness.events.all.contains("start workers") && !harness.events.all.contains("submit"))
        #expect(outcome.status.status == .bootstrapFailed)
        #expect(harness.folder.last?.status == .bootstrapFailed)
    }

    @Test func aWorkerStepThatExitsMidRunStopsThePipelineAndFails() async throws {
        let harness = Harness(plan: plan, script: .keepPrinting(every: 1), makeStep: { step, clock, events in
            FakeStep(name: step.name, nodes: step.nodes, clock: clock, events: events, exitAt: step.name == "workers" ? (60, 137) : nil)
        })
        let outcome = await harness.run.run()
        let failure = try #require(outcome.failure)
        #expect(failure.message.contains("the workers step (n[2-3]) exited with status 137"))
        #expect(outcome.exitCode == 1 && outcome.status.status == .bootstrapFailed)
        let events = harness.events.all
        #expect(events.contains("stop job"), "the Ray job is stopped")
        #expect(events.firstIndex(of: "stop job")! < events.firstIndex(of: "signal \(SIGUSR1) to head")!)
        #expect(!events.contains("signal \(SIGUSR1) to workers"), "a step that has ended is not signalled")
        #expect(harness.clock.now < 80)
    }

    @Test func theReadyTimeoutNamesTheMissingNodes() async throws {
        var settings = BootstrapRunSettings()
        settings.readyTimeout = 30
        let harness = Harness(plan: plan, script: .hang, settings: settings, probe: { plan, clock in
            FakeProbe(clock: clock) { _ in [RayNode(nodeIP: "10.0.0.1", resourcesTotal: ["CPU": 4, "GPU": 1])] }
        })
        let outcome = await harness.run.run()
        let failure = try #require(outcome.failure)
        #expect(failure.message.contains("only 1 of 3 Ray nodes came up within 30 s (--ready-timeout); missing: n[2-3]"), "\(failure.message)")
        #expect(failure.message.contains("log of n2") && failure.message.contains("log of n3"))
        #expect(harness.console.text.contains("1/3 nodes up (4 CPUs, 1 GPUs), waiting for n[2-3]"))
        #expect(harness.console.text.contains("still waiting for 3 Ray nodes"))
        #expect(harness.clock.now >= 30 && harness.clock.now < 32)
        #expect(!harness.events.all.contains("submit"))
    }

    /// Ray before 2.60 loses the head's raylet when a worker joins before it registered.
    @Test func olderRayStartsTheWorkersOnlyOnceTheHeadIsRegistered() async throws {
        for version in ["2.52.1", nil] {
            let harness = Harness(plan: Self.plan(rayVersion: version), script: .finish([], Self.succeeded), probe: { plan, clock in
                var probe = FakeProbe.allUp(plan, clock: clock, at: 8)
                probe.dashboardAt = 6
                return probe
            })
            let run = harness.run
            let outcome = Task { await run.run() }
            while !harness.events.all.contains("start workers") { await Task.yield() }
            #expect(harness.clock.now >= 8, "after the dashboard (6 s) and the head's node (8 s), not at the GCS (1 s)")
            #expect(await outcome.value.exitCode == 0)
            #expect(harness.console.text.contains("registered the head (before 2.60 a worker must not join earlier)"))
        }
        let current = Harness(plan: plan, script: .finish([], Self.succeeded))
        let run = current.run
        let outcome = Task { await run.run() }
        while !current.events.all.contains("start workers") { await Task.yield() }
        #expect(current.clock.now < 3, "2.60 starts its workers when the GCS answers")
        _ = await outcome.value
    }

    @Test func nodesWithoutTheirGpusOrCpusAreNotReady() {
        let node = { (ip: String, gpus: Double) in RayNode(nodeIP: ip, resourcesTotal: ["CPU": 4, "GPU": gpus]) }
        #expect(NodeCount(alive: [node("10.0.0.1", 1), node("10.0.0.2", 1), node("10.0.0.3", 1)], plan: plan).isComplete)
        let gpuMissing = NodeCount(alive: [node("10.0.0.1", 1), node("10.0.0.2", 0), node("10.0.0.3", 1)], plan: plan)
        #expect(!gpuMissing.isComplete && gpuMissing.report == "3/3 nodes up (12 CPUs, 2 GPUs)")
    }

    @Test func aStalledPipelineIsStoppedWithItsStackSavedAndExits8() async throws {
        var settings = BootstrapRunSettings()
        settings.watchdog.stallTimeout = 60
        let harness = Harness(plan: plan, script: .hang, settings: settings)
        let outcome = await harness.run.run()
        #expect(outcome.exitCode == 8 && outcome.failure?.kind == .stalled)
        #expect(outcome.status.status == .stalled)
        #expect(outcome.failure?.message.contains("printed nothing for 60 s (--stall-timeout)") == true)
        let events = harness.events.all
        let dump = try #require(events.firstIndex { $0.hasPrefix("run sh -c") }, "py-spy's dump step ran: \(events)")
        #expect(dump < events.firstIndex(of: "stop job")!)
        #expect(harness.console.text.contains("saved the stalled driver's stack (pid 4242 at 10.0.0.1)"))
    }

    @Test func aPipelineOverItsMaxRuntimeIsStoppedAndExits9EvenWhilePrinting() async throws {
        var settings = BootstrapRunSettings()
        settings.watchdog.maxRuntime = 100
        settings.watchdog.stallTimeout = 30
        let harness = Harness(plan: plan, script: .keepPrinting(every: 1), settings: settings)
        let outcome = await harness.run.run()
        #expect(outcome.exitCode == 9 && outcome.status.status == .maxRuntime)
        #expect(harness.events.all.contains("stop job"))
        let submittedAt = try #require(outcome.status.seconds[.submitted])
        let finishedAt = try #require(outcome.status.seconds[.finished])
        #expect(finishedAt - submittedAt >= 100 && finishedAt - submittedAt < 110)
    }

    @Test func sigtermStopsTheJobKeepsItsStatusAndExits143() async throws {
        let harness = Harness(plan: plan, script: .keepPrinting(every: 1))
        let run = harness.run
        let outcome = Task { await run.run() }
        while harness.console.output.value.isEmpty { await Task.yield() }
        run.requestTermination(signal: SIGTERM)
        let ended = await outcome.value
        #expect(ended.exitCode == 143 && ended.failure?.kind == .terminated)
        #expect(ended.status.status == .terminated && ended.status.jobStatus == .stopped)
        #expect(ended.status.submissionID == "sd_fake")
        #expect(harness.console.text.contains("signal 15 received"))
        let events = harness.events.all
        // Kept on disk before the teardown: Slurm's SIGKILL may end bootstrap during it.
        let stop = try #require(events.firstIndex(of: "stop job"))
        let written = try #require(events.firstIndex(of: "status TERMINATED"))
        let teardown = try #require(events.firstIndex(of: "signal \(SIGUSR1) to workers"))
        #expect(stop < written && written < teardown)
        #expect(events.last == "status TERMINATED")
        #expect(String(decoding: harness.folder.log.value, as: UTF8.self).hasPrefix("tick"), "output so far is kept")
    }

    @Test func sigtermWhileRayStartsEndsTheWaitAndSubmitsNothing() async throws {
        let harness = Harness(plan: plan, script: .hang, probe: { plan, clock in
            var probe = FakeProbe.allUp(plan, clock: clock)
            probe.dashboardAt = nil
            return probe
        })
        let run = harness.run
        let outcome = Task { await run.run() }
        while !harness.events.all.contains("start workers") { await Task.yield() }
        run.requestTermination(signal: SIGTERM)
        let ended = await outcome.value
        #expect(ended.exitCode == 143 && ended.status.status == .terminated)
        #expect(!harness.events.all.contains("submit") && !harness.events.all.contains("stop job"))
        #expect(ended.failure?.message.contains("terminated while waiting for Ray's dashboard") == true)
    }

    @Test func aStepThatIgnoresTheStopRequestIsKilledAfterTheGracePeriod() async throws {
        let harness = Harness(plan: plan, script: .finish([], Self.succeeded), makeStep: { step, clock, events in
            FakeStep(name: step.name, nodes: step.nodes, clock: clock, events: events, stopsOn: step.name == "head" ? [] : [SIGUSR1])
        })
        let before = harness.clock.now
        let outcome = await harness.run.run()
        #expect(outcome.exitCode == 0)
        let events = harness.events.all
        #expect(
            Array(events.drop { !$0.hasPrefix("signal") }.prefix(3)) == [
                "signal \(SIGUSR1) to workers", "signal \(SIGUSR1) to head", "signal \(SIGKILL) to head",
            ])
        #expect(harness.console.text.contains("the head step did not end within 20 s; killed it"))
        let status = try #require(harness.folder.last)
        #expect(status.teardownSeconds! >= 20 && status.teardownSeconds! < 21)
        #expect(harness.clock.now - before >= 20)
    }

    @Test func requiredSharedFoldersAreCheckedByEveryNodeBeforeTheSubmission() async throws {
        var settings = BootstrapRunSettings()
        settings.requireShared = ["/scratch/out"]
        let shared = Harness(plan: plan, script: .finish([], Self.succeeded), settings: settings)
        shared.launcher.sharedAnswers.value = ["n1": nil, "n2": nil, "n3": nil]
        #expect(await shared.run.run().exitCode == 0)
        #expect(shared.console.text.contains("/scratch/out is shared by all 3 nodes"))

        // n3 sees another folder there.
        let split = Harness(plan: plan, script: .finish([], Self.succeeded), settings: settings)
        split.launcher.sharedAnswers.value = ["n1": nil, "n2": nil, "n3": "cat: /scratch/out/probe: No such file"]
        let outcome = await split.run.run()
        let failure = try #require(outcome.failure)
        #expect(failure.kind == .usage && outcome.status.status == .bootstrapFailed)
        #expect(failure.message.contains("--require-shared /scratch/out is not the same folder on every node (n3: cat: /scratch/out/probe: No such file)"), "\(failure.message)")
        #expect(!split.events.all.contains("submit"))
    }
}

@Suite struct TeardownTests {
    @Test func oneGracePeriodForAllStepsThenKill() async {
        let clock = FakeClock()
        let events = EventLog()
        let steps = [
            FakeStep(name: "a", nodes: [], clock: clock, events: events, stopsOn: []),
            FakeStep(name: "b", nodes: [], clock: clock, events: events, stopsOn: []),
        ]
        let killed = await Teardown.run(steps, sequence: [.send(SIGUSR1, allowedSeconds: 5), .send(SIGTERM, allowedSeconds: 5)], clock: clock)
        #expect(killed == ["a", "b"])
        #expect(clock.now >= 10 && clock.now < 10.5, "two grace periods for both steps together, not one each")
        #expect(events.all == ["signal \(SIGUSR1) to a", "signal \(SIGUSR1) to b", "signal \(SIGTERM) to a", "signal \(SIGTERM) to b", "signal \(SIGKILL) to a", "signal \(SIGKILL) to b"])
    }
}

@Suite struct BootstrapAuthenticationTests {
    let plan = BootstrapRunTests().plan

    @Test func aDashboardThatDoesNotEnforceTheTokenIsNeverGivenThePipeline() async throws {
        let harness = BootstrapRunTests.Harness(plan: plan, script: .finish([], BootstrapRunTests.succeeded), probe: { plan, clock in
            var probe = FakeProbe.allUp(plan, clock: clock)
            probe.authentication = "unknown"
            return probe
        })
        let outcome = await harness.run.run()
        #expect(outcome.exitCode == ExitKind.environment.code)
        #expect(outcome.failure?.message.contains("does not enforce token authentication") == true)
        #expect(!harness.events.all.contains("submit"))
    }

    @Test func withoutAuthenticationNoTokenIsMadeOrPassed() async throws {
        var insecure = plan
        insecure.authentication = .none
        let harness = BootstrapRunTests.Harness(plan: insecure, script: .finish([], BootstrapRunTests.succeeded), probe: { plan, clock in
            var probe = FakeProbe.allUp(plan, clock: clock)
            probe.authentication = "unknown"
            return probe
        }, token: nil, warnings: ["no authentication"])
        let outcome = await harness.run.run()
        #expect(outcome.exitCode == 0)
        #expect(harness.folder.token.value == nil)
        let environment = try #require(harness.launcher.environments.value.first)
        #expect(environment["RAY_AUTH_MODE"] == nil && environment["RAY_AUTH_TOKEN"] == nil)
        #expect(outcome.status.authentication == .none && outcome.status.warnings == ["no authentication"])
    }
}
