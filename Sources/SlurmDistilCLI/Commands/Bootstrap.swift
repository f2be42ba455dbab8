import ArgumentParser
import Foundation
import SlurmDistil

#if canImport(Glibc)
    import Glibc
#endif

struct Bootstrap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inside an allocation: start Ray on every node, run the pipeline as a Ray job, tear down.",
        discussion: """
            Normally called by the script `slurm-distil gen-sbatch` writes. The pipeline's status becomes the batch
            job's. Output, the token (0600) and status.json are kept in the job folder.

            Examples:
              slurm-distil bootstrap -- python -u pipeline.py
              slurm-distil bootstrap --interface ib0 --working-dir . --runtime-env runtime_env.yaml -- python -u pipeline.py
              slurm-distil bootstrap --dry-run -- python -u pipeline.py
              slurm-distil bootstrap --max-restarts 3 --on-node-loss requeue -- python -u pipeline.py

            With --max-restarts N, the signal before the time limit stops the pipeline gracefully (SIGINT,
            so that distilabel writes its cache) and requeues the job, at most N times; with --on-node-loss
            requeue, so does a node whose Ray dies. A preempted job submitted with --requeue is stopped the
            same way and comes back. Each new attempt gets SLURM_DISTIL_ATTEMPT, and DISTILABEL_CACHE_DIR
            in the job folder, so that distilabel resumes.

            \(ExitKind.helpText(for: [.jobFollowers, .bootstrap]))
            """
    )

    @OptionGroup var address: AddressOptions
    @Option(help: "Folder to upload as the pipeline's working_dir.")
    var workingDir: String?
    @Option(help: "runtime_env YAML for the pipeline; ${VAR} comes from the environment and is never printed.")
    var runtimeEnv: String?
    @Option(help: "The ray executable on every node (default: ray on PATH, e.g. from --venv).")
    var ray = "ray"
    @Option(help: "Node-local folder for Ray's per-job temp dirs (default /tmp).")
    var tempRoot = "/tmp"
    @Option(help: "Object store size per node, e.g. 2G or 500M (default: Ray's choice).")
    var objectStoreMemory: String?
    @Option(help: "Seconds Ray drains a node on shutdown (RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S).")
    var drainTimeout = 5
    @Option(help: "Address the dashboard binds to (default: the head's cluster address; 0.0.0.0 exposes it).")
    var dashboardHost: String?
    @Option(help: "Folder for output, token and status.json (default SUBMIT_DIR/slurm-distil-logs/JOBID).")
    var jobFolder: String?
    @Option(help: "Stop the pipeline when it prints nothing for this long (e.g. 30m), after saving its driver's stack.")
    var stallTimeout: String?
    @Option(help: "Stop the pipeline when it runs longer than this (e.g. 6h).")
    var maxRuntime: String?
    @Option(help: "How long Ray may take to come up on every node before bootstrap gives up (default 5m).")
    var readyTimeout = "5m"
    @Option(help: "The pipeline's tensor-parallel size: warns when it exceeds the GPUs per node.")
    var tensorParallelSize: Int?
    @Option(help: "A folder every node must see as the same storage; checked before the pipeline starts (repeatable).")
    var requireShared: [String] = []
    @Option(parsing: .unconditional, help: "Requeue the job at most N times (at the time limit, or with --on-node-loss requeue); the next attempt resumes (default 0).")
    var maxRestarts = RequeuePolicy().maxRestarts
    @Option(help: "What a node whose Ray dies mid-run does: fail (the run ends) or requeue (stop, exclude the node, requeue).")
    var onNodeLoss = RequeuePolicy().onNodeLoss.rawValue
    @Flag(help: "Keep Ray's per-node Prometheus metrics exporter (off by default: it listens on every interface, without auth).")
    var metrics = false
    @Flag(help: "Also start Ray's autoscaler monitor and the idle workers it prestarts for the first driver (bootstrap uses neither; off saves CPU while Ray comes up).")
    var allRayProcesses = false
    @Flag(help: "Run a Ray older than 2.52, which has no token authentication; its dashboard then listens on the head's loopback only.")
    var insecureNoAuth = false
    @Flag(help: "Run doctor's checks on every node first, and start nothing when one fails.")
    var preflight = false
    @Flag(help: "Print the plan (roles, addresses, ports, commands) and exit.")
    var dryRun = false
    @Argument(parsing: .postTerminator, help: "The pipeline command, after '--'.")
    var entrypoint: [String] = []

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard !entrypoint.isEmpty else {
            throw Failure.usage("no pipeline command after '--'", hint: "slurm-distil bootstrap -- python -u pipeline.py")
        }
        // Options first: a typo must not wait for an allocation to be found out.
        var settings = BootstrapRunSettings()
        settings.environment = environment
        settings.requireShared = requireShared
        settings.watchdog.stallTimeout = try stallTimeout.map { (text) throws(Failure) in Double(try DurationText.seconds(parsing: text, option: "--stall-timeout")) }
        settings.watchdog.maxRuntime = try maxRuntime.map { (text) throws(Failure) in Double(try DurationText.seconds(parsing: text, option: "--max-runtime")) }
        settings.readyTimeout = Double(try DurationText.seconds(parsing: readyTimeout, option: "--ready-timeout"))
        settings.requeue = try RequeuePolicy(checkingMaxRestarts: maxRestarts, onNodeLoss: onNodeLoss)
        settings.restarts = Int(environment["SLURM_RESTART_COUNT"] ?? "") ?? 0
        let files = LocalFileSystem()
        var options = BootstrapOptions(launcher: files.executablePath, jobFolder: jobFolder)
        options.policy = try address.policy()
        options.headNode = address.headNode
        options.ray = ray
        options.tempRoot = tempRoot
        options.objectStoreBytes = try objectStoreMemory.map { (text) throws(Failure) in try ByteSize.parse(text, option: "--object-store-memory") }
        options.drainTimeoutSeconds = drainTimeout
        options.dashboardHost = dashboardHost
        options.metrics = metrics
        options.allRayProcesses = allRayProcesses
        options.tensorParallelSize = tensorParallelSize
        options.insecureNoAuth = insecureNoAuth
        var request = JobRequest(entrypoint: entrypoint)
        if let runtimeEnv {
            request.runtimeEnv = try RuntimeEnvironment.parse(yaml: files.read(runtimeEnv), path: runtimeEnv, environment: environment)
        }
        request.workingDir = workingDir

        let allocation = try Allocation(environment: environment, hostname: ProcessInfo.processInfo.hostName)
        let setup = try BootstrapPlanner(directory: SystemNodeDirectory(environment: environment), installation: InstalledRay(environment: environment)).plan(
            allocation: allocation, options: options, request: request, currentDirectory: files.currentDirectory)
        for warning in setup.warnings { StandardError.write("slurm-distil: warning: \(warning)\n") }
        for note in setup.notes { StandardError.write("slurm-distil: \(note)\n") }
        if dryRun {
            print(setup.plan.description, terminator: "")
            return
        }
        if preflight { try await runPreflight(allocation: allocation, options: options, environment: environment) }
        let token = setup.plan.authentication == .token ? BootstrapRun.newToken() : nil
        let resumeState = DistilabelResumeState(
            cachePath: AttemptEnvironment.distilabelCache(jobFolder: setup.plan.jobFolder, environment: environment, runtimeEnv: setup.job.submission.runtimeEnv),
            attempt: settings.attempt, files: files)
        let run = BootstrapRun(
            plan: setup.plan, job: setup.job, settings: settings, edges: .system(plan: setup.plan, token: token, resumeState: resumeState), token: token,
            warnings: setup.warnings)
        let signals = SignalWatcher([SIGTERM, SIGINT, SIGHUP]) { run.requestTermination(signal: $0) }
        defer { signals.cancel() }
        let outcome = await run.run()
        if let failure = outcome.failure { throw failure }
        throw ExitCode(outcome.exitCode)
    }
}

extension Bootstrap {
    /// doctor's checks with bootstrap's own options, before any Ray starts.
    func runPreflight(allocation: Allocation, options: BootstrapOptions, environment: [String: String]) async throws(Failure) {
        let doctor = DoctorOptions(bootstrap: options, workingDir: workingDir)
        StandardError.write("slurm-distil: preflight: doctor's checks on \(allocation.nodes.count) node(s)\n")
        let report = try await Doctor(launcher: SrunLauncher(), directory: SystemNodeDirectory(environment: environment))
            .run(allocation: allocation, options: doctor, environment: environment, currentDirectory: LocalFileSystem().currentDirectory)
        StandardError.write(report.table + "\n")
        guard !report.failed else {
            let failed = report.failures
            throw Failure.environment(
                "preflight: \(failed.count) check(s) failed (\(failed.map { "\($0.check) on \($0.node)" }.joined(separator: ", "))); Ray was not started",
                hint: "fix what the table names; `slurm-distil doctor` runs the same checks")
        }
    }
}

/// The per-node agent bootstrap starts through srun; not for direct use.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "_node", abstract: "Internal: run Ray on this node for bootstrap.", shouldDisplay: false)

    @Argument(parsing: .captureForPassthrough) var arguments: [String] = []

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let settings = try NodeAgentSettings(parsing: arguments)
        let status = try NodeAgent(settings: settings, environment: environment, directory: SystemNodeDirectory(environment: environment)).run()
        throw ExitCode(status)
    }
}
