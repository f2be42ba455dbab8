import Foundation

/// The attempts of a job Slurm may run again (time limit, preemption, a lost node): how an attempt
/// that is cut short ends (stop gracefully, tear down, requeue), and how the next one starts from
/// what the earlier ones left.
extension BootstrapRun {
    /// How long a pipeline that failed waits for a lost node to show (PipelineWatch.nodeLossGrace): a
    /// node agent reports its Ray gone about 5 s after the raylet died (RELIABILITY.md), 3x that here.
    static let nodeLossGrace: Double = 15

    /// Whether Slurm may run this job again: bootstrap may requeue it, it was requeued before, or it
    /// was submitted with --requeue (preemption).
    func mayBeRequeued() async -> Bool {
        if let known = requeueable.value { return known }
        let answer = await askWhetherRequeueable()
        requeueable.value = answer
        return answer
    }

    private func askWhetherRequeueable() async -> Bool {
        if settings.requeue.maxRestarts > 0 || settings.restarts > 0 { return true }
        guard let slurm = edges.slurm else { return false }
        return (try? await slurm.job(plan.jobID))?.requeueable ?? false
    }

    /// Whether the failure is one after which the run goes on in a new allocation, and how.
    func requeueDecision(after error: Failure) async -> RequeueDecision? {
        guard let slurm = edges.slurm else { return nil }
        if let signal = terminationSignal.value {
            guard error.kind != .stalled, error.kind != .maxRuntime else { return nil }
            let record = try? await slurm.job(plan.jobID)
            return RequeueDecision.afterSignal(
                signal, policy: settings.requeue, restarts: settings.restarts, record: record, now: Date(timeIntervalSince1970: edges.wallClock()))
        }
        guard status.submissionID != nil, let dead = steps.all.first(where: { $0.exitStatus != nil }) else { return nil }
        // The node whose Ray ended by itself; srun's --kill-on-bad-exit ended the others of its step, so
        // they are not excluded (none is, when no node says so).
        let lost = dead.nodes.filter { edges.folder.read("ray-\($0).log").contains(NodeAgent.rayExitedMarker) }
        return RequeueDecision.afterNodeLoss(policy: settings.requeue, restarts: settings.restarts, lostNodes: lost)
    }

    /// Stops the pipeline gracefully, tears down, and requeues the job: the next attempt resumes.
    func endForRequeue(_ decision: RequeueDecision, after error: Failure) async -> BootstrapOutcome {
        let reason = decision.reason.words
        if case .nodeLost = decision.reason {
            edges.console.say("\(reason): stopping the pipeline, then requeueing job \(plan.jobID) without that node; attempt \(settings.attempt + 1) starts it over")
        } else {
            edges.console.say(
                "\(reason): stopping the pipeline gracefully (up to \(Int(decision.drainSeconds)) s for it to save its work), then requeueing job \(plan.jobID); attempt \(settings.attempt + 1) resumes it")
        }
        var attempt = status.current
        attempt.requeueReason = reason
        let headRuns = steps.all.first { $0.nodes.contains(plan.head) }?.exitStatus == nil
        if case .nodeLost = decision.reason, status.submissionID != nil {
            // A lost node's batch in flight is counted as taken in distilabel's cache but never comes
            // out (measured: its rows were missing after a resume), and the driver may wait for it
            // forever: no graceful stop, the next attempt starts over.
            if let id = status.submissionID, headRuns { await stopJob(id) }
            attempt.stoppedGracefully = false
            attempt.resumable = false
        } else if let id = status.submissionID, headRuns {
            let (final, seconds) = await drain(id, within: decision.drainSeconds)
            if let final, final.status == .succeeded {
                // It finished while being asked to stop: nothing is left to resume.
                edges.console.say("the pipeline finished before it stopped; no requeue")
                return await endWithoutRequeue(final)
            }
            // STOPPED is Ray's word for a driver that ended after our stop request; FAILED is one that
            // died before it (a SIGTERM of its own, a crash): its cache was not written to the end.
            let graceful = final?.status == .stopped
            attempt.stoppedGracefully = graceful
            attempt.resumable = graceful
            attempt.stopSeconds = (seconds * 10).rounded() / 10
            edges.console.say(
                graceful
                    ? "the pipeline stopped by itself \(attempt.stopSeconds!) s after the stop signal; its cache is whole"
                    : final == nil
                        ? "the pipeline did not stop within \(Int(decision.drainSeconds)) s; it is killed with Ray, and the next attempt will not trust its cache"
                        : "the pipeline ended \(final!.status.rawValue), not stopped by the signal; the next attempt will not trust its cache")
        } else if status.submissionID != nil {
            // The driver ran on the head: gone with it, it wrote nothing more.
            attempt.stoppedGracefully = false
            attempt.resumable = false
        }
        status.current = attempt
        status.status = .requeued
        status.exitCode = ExitKind.requeued.code
        status.message = "\(reason): attempt \(settings.attempt) stopped, job \(plan.jobID) requeued; \(error.message.prefix { $0 != "\n" })"
        endAttempt()
        mark(.finished)
        writeStatus()
        await teardown()
        var failure: Failure?
        if let slurm = edges.slurm {
            let excludedBefore = (try? await slurm.job(plan.jobID))?.excludedNodes
            // Slurm's SIGTERM to this attempt follows the requeue; it has nothing left to stop.
            _ = terminationRequested.testAndSet()
            do throws(Failure) {
                try await slurm.requeue(plan.jobID)
                edges.console.say("job \(plan.jobID) requeued (\(reason)); output and status of this attempt in \(plan.jobFolder)")
            } catch {
                // Slurm requeues a preempted job by itself; after a time limit or a lost node the run ends here.
                let ending: (BootstrapStatus.State, ExitKind) =
                    switch decision.reason {
                    case .preempted: (.requeued, .requeued)
                    case .timeLimit: (.terminated, .terminated)
                    case .nodeLost: (.bootstrapFailed, .runtime)
                    }
                if decision.reason != .preempted { failure = Failure(ending.1, error.message, hint: error.hint) }
                status.status = ending.0
                status.exitCode = ending.1.code
                status.message = "\(reason): could not requeue job \(plan.jobID): \(error.message)"
                status.current.status = status.status
                status.current.exitCode = status.exitCode
            }
            // Slurm changes ExcNodeList of a pending job only; a requeued job waits CredExpire seconds
            // before it may start, while this process has KillWait seconds left.
            if failure == nil, case .nodeLost(let nodes) = decision.reason, !nodes.isEmpty {
                do throws(Failure) {
                    try await slurm.exclude(nodes, from: plan.jobID, already: excludedBefore)
                    edges.console.say("excluded \(nodes.joined(separator: ",")) from job \(plan.jobID)'s next attempt")
                } catch {
                    edges.console.say("warning: \(nodes.joined(separator: ",")) could not be excluded from the next attempt: \(error.message)")
                    status.warnings.append("the lost node \(nodes.joined(separator: ",")) was not excluded: \(error.message)")
                }
            }
        }
        writeStatus()
        return BootstrapOutcome(exitCode: status.exitCode, failure: failure, status: status)
    }

    /// The pipeline ended on its own account while bootstrap was stopping it.
    func endWithoutRequeue(_ final: RayJobInfo) async -> BootstrapOutcome {
        status.status = BootstrapStatus.State(job: final.status)
        status.jobStatus = final.status
        status.exitCode = final.exitCode
        status.message = final.message.map { String($0.prefix(2000)) }
        endAttempt()
        mark(.finished)
        writeStatus()
        await teardown()
        writeStatus()
        return BootstrapOutcome(exitCode: status.exitCode, failure: nil, status: status)
    }

    /// Asks Ray to stop the job (SIGINT to the driver) and waits until it has ended by itself; nil
    /// when it had not within `seconds`.
    func drain(_ id: String, within seconds: Double) async -> (final: RayJobInfo?, seconds: Double) {
        let started = edges.clock.now
        try? await edges.pipeline.stop(id)
        while edges.clock.now - started < seconds {
            if let info = try? await edges.pipeline.job(id), info.status.isTerminal {
                status.jobStatus = info.status
                return (info, edges.clock.now - started)
            }
            await edges.clock.sleep(0.5)
        }
        return (nil, edges.clock.now - started)
    }

    /// This attempt's entry, as the run ends.
    func endAttempt() {
        var attempt = status.current
        attempt.status = status.status
        attempt.exitCode = status.exitCode
        attempt.endedAt = (edges.wallClock() * 1000).rounded() / 1000
        status.current = attempt
    }

    /// A requeued job's new attempt: the earlier attempts from status.json, their logs moved into
    /// attempt-N/, and the pipeline's cache made safe to resume from. Returns what was done, in words.
    func resumeEarlierAttempts() -> [String] {
        var notes: [String] = []
        let previousNumber = settings.attempt - 1
        if let previous = edges.folder.readStatus(), previous.slurmJobID == plan.jobID {
            status.attempts = previous.attempts.filter { $0.number < settings.attempt }
        }
        if let index = status.attempts.lastIndex(where: { $0.number == previousNumber }), status.attempts[index].endedAt == nil {
            // Its bootstrap never wrote an end: killed outright (a preemption without the signal, a node failure).
            status.attempts[index].requeueReason = status.attempts[index].requeueReason ?? "ended without bootstrap's stop (killed outright)"
            status.attempts[index].stoppedGracefully = false
            status.attempts[index].resumable = false
        }
        let moved = edges.folder.archiveAttempt(previousNumber)
        if !moved.isEmpty { notes.append("attempt \(previousNumber)'s logs moved to \(plan.jobFolder)/attempt-\(previousNumber)/ (\(moved.joined(separator: ", ")))") }
        // An attempt that submitted nothing left the cache as the one before it did.
        let resumable = status.attempts.last(where: { $0.number < settings.attempt && $0.submissionID != nil })?.resumable ?? false
        notes += edges.resumeState.prepare(previousAttemptResumable: resumable)
        notes.insert("attempt \(settings.attempt) of job \(plan.jobID) (restart \(settings.restarts)): the pipeline is submitted again", at: 0)
        return notes
    }
}
