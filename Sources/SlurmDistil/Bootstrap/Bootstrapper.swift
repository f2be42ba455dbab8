import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The whole run inside an allocation: Ray up on every node, the pipeline through the Jobs API, its
/// status as the batch job's, and exactly what was started torn down again.
public final class Bootstrapper: @unchecked Sendable {
    public struct Record: Codable, Sendable {
        public var slurmJobID: String
        public var nodes: [String]
        public var head: String
        public var dashboard: String
        public var submissionID: String?
        public var status: String
        public var exitCode: Int32
        public var message: String?
        /// When bootstrap started (seconds since 1970); `seconds` counts from there.
        public var startedAt: Double
        public var rayPorts: String
        public var seconds: [String: Double] = [:]
    }

    let plan: BootstrapPlan
    let request: JobRequest
    /// Paths every node must see as the same file system (distilabel's global steps pass data there).
    public var requireShared: [String] = []
    /// Stop a pipeline that prints nothing for this long (seconds), after saving its driver's stack.
    public var stallTimeout: Double?
    /// Stop a pipeline that runs longer than this (seconds).
    public var maxRuntime: Double?
    /// How long Ray may take to be up on every node (seconds), counted from the head step's start.
    public var readyTimeout: Double = 300
    private var readyDeadline = Date.distantFuture
    /// Set by the watchdog when it stops the pipeline: the exit status it stands for.
    private let watchdogStatus = Locked<Int32?>(nil)
    let environment: [String: String]
    let currentDirectory: String
    let started = Date()
    private var steps: [(name: String, process: ChildProcess)] = []
    private let stepsLock = NSLock()
    let terminationRequested = Locked(false)
    private var record: Record

    public init(plan: BootstrapPlan, request: JobRequest, environment: [String: String], currentDirectory: String) {
        self.plan = plan
        self.request = request
        self.environment = environment
        self.currentDirectory = currentDirectory
        record = Record(slurmJobID: plan.jobID, nodes: plan.nodes, head: plan.head, dashboard: plan.dashboardURL, status: "STARTING", exitCode: 0,
            startedAt: (started.timeIntervalSince1970 * 1000).rounded() / 1000, rayPorts: "\(plan.ports.base)-\(plan.ports.maxWorker)")
    }

    static func say(_ text: String) {
        OutputFile.standardError.write("slurm-distil: \(text)\n")
    }

    func mark(_ event: String) {
        record.seconds[event] = (Date().timeIntervalSince(started) * 100).rounded() / 100
    }

    /// SIGTERM/SIGINT/SIGHUP: stop the pipeline, keep its output, tear down.
    func watchSignals(onSignal: @escaping @Sendable () -> Void) -> [DispatchSourceSignal] {
        [SIGTERM, SIGINT, SIGHUP].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                guard !terminationRequested.value else { return }
                terminationRequested.value = true
                Self.say("signal \(number) received: stopping the pipeline, saving its output, tearing down")
                onSignal()
            }
            source.resume()
            return source
        }
    }

    public func run() async -> Int32 {
        let status: Int32
        var failure: Failure?
        do {
            status = try await runSteps()
        } catch {
            failure = error
            if let watchdogStatus = watchdogStatus.value {
                status = watchdogStatus
                record.status = watchdogStatus == JobExit.stalled ? "STALLED" : "MAX_RUNTIME"
            } else {
                status = terminationRequested.value ? JobExit.terminated : error.kind.exitCode
                record.status = terminationRequested.value ? "TERMINATED" : "BOOTSTRAP_FAILED"
            }
            record.message = error.description
            Self.say("error: \(error.message)" + (error.hint.map { "\nhint: \($0)" } ?? ""))
        }
        record.exitCode = status
        mark("finished")
        // Written before tearing down too: after scancel, Slurm's SIGKILL follows KillWait seconds later.
        writeRecord()
        teardown()
        writeRecord()
        if failure == nil {
            Self.say("done: \(record.status), exit \(status); output and status in \(plan.jobFolder)")
        }
        return status
    }

    private func runSteps() async throws(Failure) -> Int32 {
        try prepareFolder()
        let token = Self.newToken()
        // Created 0600 from the start: there is no moment in which others could read it.
        try? FileManager.default.removeItem(atPath: plan.tokenPath)
        guard FileManager.default.createFile(atPath: plan.tokenPath, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw Failure(.runtime, "cannot write the token file \(plan.tokenPath)", hint: "check that the job folder is writable")
        }
        var stepEnvironment = BootstrapPlan.stepEnvironment(environment)
        stepEnvironment["RAY_AUTH_MODE"] = "token"
        stepEnvironment["RAY_AUTH_TOKEN"] = token
        let client = RayJobsClient(address: plan.dashboardURL, token: RayToken(value: token, source: plan.tokenPath))
        let task = Task { [self] () async -> Result<Int32, Failure> in
            do throws(Failure) {
                return .success(try await startAndRun(client: client, stepEnvironment: stepEnvironment))
            } catch {
                return .failure(error)
            }
        }
        let sources = watchSignals { task.cancel() }
        defer { sources.forEach { $0.cancel() } }
        return try await task.value.get()
    }

    private func startAndRun(client: RayJobsClient, stepEnvironment: [String: String]) async throws(Failure) -> Int32 {
        Self.say("starting Ray on \(plan.nodes.count) node(s): head \(plan.head) at \(plan.headAddress), dashboard \(plan.dashboardURL)")
        readyDeadline = Date().addingTimeInterval(readyTimeout)
        try startStep("head", plan.headStep, environment: stepEnvironment)
        // Workers only need the head's GCS, which answers seconds before the dashboard does.
        try await waitForGCS()
        mark("gcsReady")
        if let workerStep = plan.workerStep {
            Self.say("the head's GCS answers; starting Ray on \(plan.workers.count) worker node(s) \(HostList.compact(plan.workers)) in one step")
            try startStep("workers", workerStep, environment: stepEnvironment)
        }
        Self.say("waiting for the dashboard (Ray's head takes 5-15 s)")
        try await waitForDashboard(client)
        mark("headReady")
        try await waitForNodes(client)
        mark("rayReady")
        for path in requireShared { try checkShared(path, environment: stepEnvironment) }

        var job = request
        job.metadata["slurm_job_id"] = plan.jobID
        let prepared = try JobSubmitter.prepare(job, currentDirectory: currentDirectory)
        let id = try await JobSubmitter(client: client).submit(prepared) { Self.say($0) }
        record.submissionID = id
        mark("submitted")
        // On disk while it runs too: if this process is killed outright, the submission id is not lost.
        record.status = "RUNNING"
        writeRecord()
        Self.say("submitted pipeline as Ray job \(id); its output follows (also in \(plan.jobFolder)/pipeline.log)")
        // Closed when this returns, while the stream's thread may still deliver a last chunk: OutputFile
        // drops it instead of trapping as FileHandle does.
        let log = OutputFile.create(atPath: plan.jobFolder + "/pipeline.log", permissions: 0o644)
        defer { log?.close() }
        // The batch output and pipeline.log outlive the job and are often group-readable.
        let redacting = RedactingStream(SecretRedactor(environment: environment, runtimeEnvSecrets: request.runtimeEnv.secrets, token: client.token))
        defer {
            let rest = redacting.finish()
            OutputFile.standardOutput.write(rest)
            log?.write(rest)
        }
        let lastOutput = LockedData(keep: false)
        let followTask = Task { () async -> Result<RayJobInfo, Failure> in
            do throws(Failure) {
                return .success(
                    try await client.follow(
                        id, output: { chunk in
                            lastOutput.append(chunk)
                            let shown = redacting.feed(chunk)
                            OutputFile.standardOutput.write(shown)
                            log?.write(shown)
                        }, progress: { Self.say($0) }))
            } catch {
                return .failure(error)
            }
        }
        // A node whose Ray dies mid-pipeline ends its step: stop following and report it. A pipeline
        // that hangs (distilabel does, on errors inside steps) is stopped after --stall-timeout.
        let stepFailure = Locked<Failure?>(nil)
        let submittedAt = Date()
        let watcher = Task { [self] in
            while !Task.isCancelled {
                do throws(Failure) {
                    try checkSteps()
                    if let stallTimeout, lastOutput.idleFor(seconds: stallTimeout) {
                        watchdogStatus.value = JobExit.stalled
                        await dumpDriverStack(id, client: client)
                        throw Failure(.runtime, "the pipeline printed nothing for \(Int(stallTimeout)) s (--stall-timeout); stopped it", hint: "its driver's stack is in \(plan.jobFolder)/stall-stack.txt")
                    }
                    if let maxRuntime, Date().timeIntervalSince(submittedAt) > maxRuntime {
                        watchdogStatus.value = JobExit.maxRuntime
                        throw Failure(.runtime, "the pipeline ran longer than \(Int(maxRuntime)) s (--max-runtime); stopped it", hint: "raise --max-runtime if it needs longer")
                    }
                } catch {
                    stepFailure.value = error
                    followTask.cancel()
                    return
                }
                try? await Task.sleep(nanoseconds: 1_000_000_000)
            }
        }
        defer { watcher.cancel() }
        let final: RayJobInfo
        do {
            final = try await withTaskCancellationHandler {
                await followTask.value
            } onCancel: {
                followTask.cancel()
            }.get()
        } catch {
            if let failure = stepFailure.value {
                try? await stopJob(id, client: client)
                throw failure
            }
            if terminationRequested.value {
                try await stopJob(id, client: client)
                throw Failure(.runtime, "terminated by a signal; pipeline job \(id) was stopped", hint: "its output so far is in \(plan.jobFolder)/pipeline.log")
            }
            throw error
        }
        record.status = final.status.rawValue
        record.message = final.message.map { String($0.prefix(2000)) }
        return JobExit.status(for: final)
    }

    private func stopJob(_ id: String, client: RayJobsClient) async throws(Failure) {
        Self.say("stopping Ray job \(id)")
        _ = try? await client.stop(id)
        // Slurm kills everything KillWait seconds after its SIGTERM: wait briefly, then move on.
        for _ in 0..<10 {
            if let info = try? await client.job(id), info.status.isTerminal {
                record.status = "TERMINATED (job \(info.status.rawValue))"
                return
            }
            try? await Task.sleep(nanoseconds: 250_000_000)
        }
        record.status = "TERMINATED (job still stopping)"
    }

    // MARK: - Steps

    private func startStep(_ name: String, _ command: [String], environment: [String: String]) throws(Failure) {
        let process = try ChildProcess.spawn(command[0], Array(command.dropFirst()), environment: environment, stdin: .null)
        stepsLock.withLock { steps.append((name, process)) }
    }

    /// A step that ended while Ray should be running is a failure to report at once.
    private func checkSteps() throws(Failure) {
        for step in stepsLock.withLock({ steps }) {
            var status: Int32 = 0
            let result = waitpid(step.process.pid, &status, WNOHANG)
            if result == step.process.pid {
                let nodes = step.name == "head" ? [plan.head] : plan.workers
                throw Failure(
                    .runtime, "the \(step.name) step (\(HostList.compact(nodes))) exited with status \(ChildProcess.exitStatus(status)) while Ray was starting or running\n\(tails(nodes))",
                    hint: "see \(plan.jobFolder)/ray-NODE.log; a wrong venv or Ray missing on a node shows there")
            }
        }
    }

    private func tails(_ nodes: [String]) -> String {
        nodes.prefix(4).map { node in
            let path = "\(plan.jobFolder)/ray-\(node).log"
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "(no output)"
            return "--- last lines of \(path):\n" + text.split(separator: "\n", omittingEmptySubsequences: false).suffix(12).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Every wait of the start-up has this shape: steps checked (a node's Ray that dies ends the wait at
    /// once), a signal honoured, progress every 10 s, and one deadline for all of readiness.
    private func waitUntil(
        _ what: String, every interval: Double, failure: @autoclosure () -> Failure, _ probe: () async -> Bool
    ) async throws(Failure) {
        let started = Date()
        var nextNote = started.addingTimeInterval(10)
        while Date() < readyDeadline {
            try checkSteps()
            if terminationRequested.value { throw Failure(.runtime, "terminated while waiting for \(what)") }
            if await probe() { return }
            if Date() >= nextNote {
                Self.say("still waiting for \(what) (\(Int(Date().timeIntervalSince(started))) s)")
                nextNote = nextNote.addingTimeInterval(10)
            }
            try? await Task.sleep(nanoseconds: UInt64(interval * 1e9))
        }
        throw failure()
    }

    private func waitForGCS() async throws(Failure) {
        try await waitUntil(
            "Ray's GCS on \(plan.head)", every: 0.1,
            failure: Failure(
                .runtime, "Ray's GCS at \(plan.gcsAddress) did not answer within \(Int(readyTimeout)) s (--ready-timeout)\n\(tails([plan.head]))",
                hint: "see \(plan.jobFolder)/ray-\(plan.head).log")
        ) { PortProbe.accepts(plan.ports.gcs, on: plan.headAddress) }
    }

    private func waitForDashboard(_ client: RayJobsClient) async throws(Failure) {
        try await waitUntil(
            "Ray's dashboard at \(plan.dashboardURL)", every: 0.3,
            failure: Failure(
                .runtime, "Ray's dashboard at \(plan.dashboardURL) did not answer within \(Int(readyTimeout)) s (--ready-timeout)\n\(tails([plan.head]))",
                hint: "a port may be taken or the head failed; see \(plan.jobFolder)/ray-\(plan.head).log")
        ) { (try? await client.jobs()) != nil }
    }

    struct NodesAnswer: Decodable {
        struct Inner: Decodable {
            struct Node: Decodable {
                var node_ip: String
                var state: String
                var resources_total: [String: Double]?
            }
            var result: [Node]
        }
        struct Data: Decodable { var result: Inner }
        var data: Data
    }

    private func waitForNodes(_ client: RayJobsClient) async throws(Failure) {
        let expected = plan.nodes.count
        let expectedCPUs = plan.cpusPerNode.count == expected ? plan.cpusPerNode.reduce(0, +) : nil
        var lastReport = ""
        var missing: [String] = plan.nodes
        var alive: [NodesAnswer.Inner.Node] = []
        try await waitUntil(
            "\(expected) Ray nodes", every: 0.25,
            failure: Failure(
                .runtime,
                "only \(alive.count) of \(expected) Ray nodes came up within \(Int(readyTimeout)) s (--ready-timeout)\(missing.isEmpty ? "" : "; missing: \(HostList.compact(missing))")\n\(tails(missing.isEmpty ? plan.workers : missing))",
                hint: "see the nodes' logs in \(plan.jobFolder)")
        ) {
            guard let response = try? await client.send(.get, "/api/v0/nodes?limit=1000&detail=false"), response.status == 200,
                let answer = try? JSONDecoder().decode(NodesAnswer.self, from: response.body)
            else { return false }
            alive = answer.data.result.result.filter { $0.state == "ALIVE" }
            let addresses = Set(alive.map(\.node_ip))
            missing = plan.nodes.filter { plan.expectedAddresses[$0].map { !addresses.contains($0) } ?? false }
            let gpus = Int(alive.reduce(0.0) { $0 + ($1.resources_total?["GPU"] ?? 0) })
            let cpus = Int(alive.reduce(0.0) { $0 + ($1.resources_total?["CPU"] ?? 0) })
            if alive.count == expected, gpus == expected * plan.gpusPerNode, expectedCPUs.map({ $0 == cpus }) ?? true { return true }
            var report = "\(alive.count)/\(expected) nodes up (\(cpus) CPUs, \(gpus) GPUs)"
            if !missing.isEmpty { report += ", waiting for \(HostList.compact(missing))" }
            if report != lastReport {
                Self.say(report)
                lastReport = report
            }
            return false
        }
    }

    /// Saves the Python stack of the job's driver with py-spy (shipped with ray[default]), run by one
    /// step on every node; only the node that has the driver prints it.
    private func dumpDriverStack(_ id: String, client: RayJobsClient) async {
        guard let info = try? await client.job(id), let pid = info.driverInfo?.pid, let ip = info.driverInfo?.nodeIPAddress else {
            Self.say("no driver process known for job \(id); no stack saved")
            return
        }
        let path = plan.jobFolder + "/stall-stack.txt"
        let script = #"if hostname -I | tr ' ' '\n' | grep -qx "$0"; then echo "== $SLURMD_NODENAME pid $1"; py-spy dump --pid "$1" 2>&1; fi"#
        if let step = try? ChildProcess.spawn(
            "srun", ["--overlap", "--ntasks-per-node=1", "--nodes=\(plan.nodes.count)", "--ntasks=\(plan.nodes.count)", "sh", "-c", script, ip, pid],
            environment: BootstrapPlan.stepEnvironment(environment), stdout: .file(path, append: false), stderr: .file(path, append: true))
        {
            _ = step.wait()
            Self.say("saved the stalled driver's stack (pid \(pid) at \(ip)) to \(path)")
        }
    }

    /// Writes a fresh file under `path` here and has every node read it back in one step.
    private func checkShared(_ path: String, environment: [String: String]) throws(Failure) {
        let nonce = Self.newToken().prefix(16)
        let probe = "\(path)/.slurm-distil-shared-\(plan.jobID)"
        do {
            try String(nonce).write(toFile: probe, atomically: true, encoding: .utf8)
        } catch {
            throw Failure.usage("--require-shared \(path): cannot write there from \(plan.head)", hint: "give a writable folder on storage every node mounts")
        }
        defer { try? FileManager.default.removeItem(atPath: probe) }
        let answers = plan.jobFolder + "/shared-check.txt"
        let step = try ChildProcess.spawn(
            "srun", ["--overlap", "--ntasks-per-node=1", "--nodes=\(plan.nodes.count)", "--ntasks=\(plan.nodes.count)", "sh", "-c",
                #"printf '%s %s\n' "$SLURMD_NODENAME" "$(cat "$0" 2>&1 | head -c 200)""#, probe],
            environment: environment, stdout: .file(answers, append: false), stderr: .file(answers + ".err", append: false))
        let status = step.wait()
        let lines = ((try? String(contentsOfFile: answers, encoding: .utf8)) ?? "").split(separator: "\n")
        var seen: [String: String] = [:]
        for line in lines {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { seen[String(parts[0])] = String(parts[1]) }
        }
        let missing = plan.nodes.filter { seen[$0] != String(nonce) }
        guard status == 0, missing.isEmpty else {
            let detail = missing.map { "\($0): \(seen[$0] ?? "no answer")" }.joined(separator: "; ")
            throw Failure.usage(
                "--require-shared \(path) is not the same folder on every node (\(detail))",
                hint: "use a path on shared storage (NFS, Lustre, GPFS) that every node mounts; distilabel's global steps and use_fs_to_pass_data need one")
        }
        Self.say("\(path) is shared by all \(plan.nodes.count) nodes")
    }

    // MARK: - Teardown

    /// Ends the steps: srun forwards SIGUSR1 to every node's agent, which stops its own Ray tree
    /// (a SIGTERM to srun would make it kill the step outright).
    private func teardown() {
        let current = stepsLock.withLock { steps }
        guard !current.isEmpty else { return }
        Self.say("tearing down Ray on \(plan.nodes.count) node(s)")
        for step in current.reversed() { kill(step.process.pid, SIGUSR1) }
        let deadline = Date().addingTimeInterval(20)
        var running = current
        while !running.isEmpty, Date() < deadline {
            running = running.filter { step in
                var status: Int32 = 0
                return waitpid(step.process.pid, &status, WNOHANG) == 0
            }
            if !running.isEmpty { usleep(100_000) }
        }
        for step in running {
            Self.say("the \(step.name) step did not end within 20 s; killing it")
            kill(step.process.pid, SIGKILL)
            _ = step.process.wait()
        }
        mark("tornDown")
    }

    private func prepareFolder() throws(Failure) {
        do {
            try FileManager.default.createDirectory(atPath: plan.jobFolder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw Failure(.runtime, "cannot create the job folder \(plan.jobFolder)", hint: "check that the submit folder is writable")
        }
    }

    private func writeRecord() {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let path = plan.jobFolder + "/status.json"
        guard let data = try? encoder.encode(record), FileManager.default.createFile(atPath: path, contents: data) else {
            Self.say("warning: could not write \(path); the job's status is only in this output: \(record.status), exit \(record.exitCode)")
            return
        }
    }

    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
