import Foundation

/// Submits the pipeline and follows it to its end, its output to the batch output and pipeline.log
/// (secrets masked), while the watchdogs run: a step that dies, --stall-timeout, --max-runtime.
struct PipelineWatch: Sendable {
    let plan: BootstrapPlan
    let edges: BootstrapEdges
    let watchdog: Watchdog
    let redactor: SecretRedactor
    let environment: [String: String]
    let steps: StepRegistry
    let terminationRequested: Locked<Bool>
    /// How long a pipeline that ended other than SUCCEEDED waits for the steps to say whether a node's
    /// Ray died under it. A lost node fails the driver (ActorUnavailableError) seconds before the node
    /// agent has seen its Ray exit and its step has ended (measured: the pipeline's FAILED came first),
    /// and with --on-node-loss requeue that order decides whether the job comes back. 0 where a lost
    /// node would not change the outcome.
    var nodeLossGrace: Double = 0

    func run(_ job: PreparedJob, submitted: @Sendable (String) async -> Void) async throws(Failure) -> RayJobInfo {
        let console = edges.console
        let clock = edges.clock
        let id = try await edges.pipeline.submit(job) { console.say($0) }
        await submitted(id)
        console.say("submitted pipeline as Ray job \(id); its output follows (also in \(plan.jobFolder)/pipeline.log)")
        // Closed when this returns, while the stream's thread may still deliver a last chunk: OutputFile
        // drops it instead of trapping as FileHandle does.
        let log = edges.folder.openPipelineLog()
        let redacting = RedactingStream(redactor)
        defer {
            let rest = redacting.finish()
            console.pipelineOutput(rest)
            log?.write(rest)
            log?.close()
        }
        let submittedAt = clock.now
        let lastOutput = Locked(submittedAt)
        let pipeline = edges.pipeline
        let follow = Task { () async -> Result<RayJobInfo, Failure> in
            do throws(Failure) {
                return .success(
                    try await pipeline.follow(
                        id,
                        output: { chunk in
                            lastOutput.value = clock.now
                            let shown = redacting.feed(chunk)
                            console.pipelineOutput(shown)
                            log?.write(shown)
                        }, progress: { console.say($0) }))
            } catch {
                return .failure(error)
            }
        }
        let tripped = Locked<Failure?>(nil)
        let watcher = Task { [self] in
            while !Task.isCancelled {
                do throws(Failure) {
                    try steps.check(plan: plan, folder: edges.folder)
                    if let trip = watchdog.check(now: clock.now, lastOutput: lastOutput.value, submittedAt: submittedAt) {
                        if trip == .stalled { await dumpDriverStack(id) }
                        throw watchdog.failure(for: trip, jobFolder: plan.jobFolder)
                    }
                } catch {
                    tripped.value = error
                    follow.cancel()
                    return
                }
                await clock.sleep(1)
            }
        }
        defer { watcher.cancel() }
        let outcome = await withTaskCancellationHandler {
            await follow.value
        } onCancel: {
            follow.cancel()
        }
        switch outcome {
        case .success(let info):
            if info.status != .succeeded, nodeLossGrace > 0 {
                console.say("pipeline ended \(info.status.rawValue); waiting up to \(Int(nodeLossGrace)) s for the nodes to say whether one was lost under it (--on-node-loss requeue)")
                let until = clock.now + nodeLossGrace
                while clock.now < until, !terminationRequested.value {
                    try steps.check(plan: plan, folder: edges.folder)
                    await clock.sleep(0.5)
                }
            }
            return info
        case .failure(let error):
            if let failure = tripped.value { throw failure }
            if terminationRequested.value || Task.isCancelled {
                throw Failure(.terminated, "terminated by a signal; pipeline job \(id) was stopped", hint: "its output so far is in \(plan.jobFolder)/pipeline.log")
            }
            throw error
        }
    }

    /// Saves the Python stack of the job's driver with py-spy (shipped with ray[default]), run by one
    /// step on every node; only the node that has the driver prints it.
    private func dumpDriverStack(_ id: String) async {
        guard let info = try? await edges.pipeline.job(id), let pid = info.driverInfo?.pid, let ip = info.driverInfo?.nodeIPAddress else {
            edges.console.say("no driver process known for job \(id); no stack saved")
            return
        }
        let path = plan.jobFolder + "/stall-stack.txt"
        let script = #"if hostname -I | tr ' ' '\n' | grep -qx "$0"; then echo "== $SLURMD_NODENAME pid $1"; py-spy dump --pid "$1" 2>&1; fi"#
        if (try? await edges.launcher.run(plan.everyNodeStep(["sh", "-c", script, ip, pid]), environment: environment, outputPath: path, timeout: 60)) != nil {
            edges.console.say("saved the stalled driver's stack (pid \(pid) at \(ip)) to \(path)")
        }
    }
}
