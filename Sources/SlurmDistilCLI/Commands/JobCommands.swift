import ArgumentParser
import Foundation
import SlurmDistil

#if canImport(Glibc)
    import Glibc
#endif

/// Which Ray cluster, and how to authenticate; shared by the Jobs commands.
struct ClusterOptions: ParsableArguments {
    @Option(help: "Ray dashboard address (default: RAY_API_SERVER_ADDRESS, then RAY_ADDRESS), e.g. http://10.0.0.1:8265.")
    var address: String?

    @Option(help: "File with the cluster's token (default: RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token).")
    var tokenFile: String?

    @Option(help: "The Slurm job id of a slurm-distil job: its dashboard, token and pipeline are read from its job folder.")
    var job: String?

    @Option(help: "The job folder of a slurm-distil job (SUBMIT_DIR/slurm-distil-logs/ID), instead of --job.")
    var jobFolder: String?

    /// The slurm-distil job named by --job or --job-folder; nil when neither was given.
    func location() throws(Failure) -> JobLocation? {
        guard job != nil || jobFolder != nil else { return nil }
        guard address == nil, tokenFile == nil else {
            throw Failure.usage(
                "--job or --job-folder together with --address or --token-file",
                hint: "the job folder names the dashboard and holds the token: give one or the other")
        }
        return try JobLocator(queue: ScontrolQueue(environment: ProcessInfo.processInfo.environment), files: LocalFileSystem())
            .locate(job: job, folder: jobFolder)
    }

    /// The client and the submission id: the given id, or the pipeline of --job.
    func target(_ id: String?) throws(Failure) -> (client: RayJobsClient, id: String) {
        if let location = try location() {
            if let id { return (try location.client(), id) }
            return (try location.client(), try location.submissionID())
        }
        guard let id else {
            throw Failure.usage("no submission id given", hint: "give the id (see `slurm-distil list`), or --job SLURM_JOB_ID for a slurm-distil job")
        }
        return (try client(), id)
    }

    /// What the job's output must not show: secret-looking variables of this environment, the token.
    func redactor(for client: RayJobsClient, also more: Set<String> = []) -> SecretRedactor {
        SecretRedactor(environment: ProcessInfo.processInfo.environment, runtimeEnvSecrets: more, token: client.token)
    }

    func client() throws(Failure) -> RayJobsClient {
        if let location = try location() { return try location.client() }
        let environment = ProcessInfo.processInfo.environment
        return RayJobsClient(
            address: try RayJobsClient.address(option: address, environment: environment),
            token: try RayToken.resolve(tokenFile: tokenFile, environment: environment, files: LocalFileSystem()))
    }
}

enum Output {
    static func write(_ data: Data) {
        OutputFile.standardOutput.write(data)
    }

    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func summary(_ job: RayJobInfo) -> String {
        var text = "job \(job.id): \(job.status.rawValue)"
        if let code = job.driverExitCode { text += ", exit code \(code)" }
        if let type = job.errorType { text += " (\(type))" }
        return text
    }
}

/// Follows a job to its end and turns its outcome into the exit status; Ctrl-C leaves it running
/// (or stops it with --stop-on-interrupt) and says so.
enum JobFollower {
    static func follow(_ id: String, client: RayJobsClient, redactor: SecretRedactor, stopOnInterrupt: Bool) async throws -> Never {
        let redacting = RedactingStream(redactor)
        let following = Task { () async -> Result<RayJobInfo, Failure> in
            do throws(Failure) {
                return .success(
                    try await client.follow(
                        id, output: { Output.write(redacting.feed($0)) }, progress: { StandardError.write("slurm-distil: \($0)\n") }))
            } catch {
                return .failure(error)
            }
        }
        let interrupted = Locked(false)
        let signals = SignalWatcher([SIGINT]) { _ in
            guard !interrupted.testAndSet() else { return }
            following.cancel()
        }
        defer { signals.cancel() }
        let result = await following.value
        Output.write(redacting.finish())
        if interrupted.value {
            if stopOnInterrupt {
                StandardError.write("\nslurm-distil: interrupted; stopping job \(id)\n")
                _ = try? await client.stop(id)
            } else {
                StandardError.write(
                    "\nslurm-distil: interrupted; job \(id) keeps running on the cluster.\n  follow it: slurm-distil logs \(id) --follow --address \(client.address)\n  stop it:   slurm-distil stop \(id) --address \(client.address)\n")
            }
            throw ExitCode(ExitKind.interrupted.code)
        }
        let final = try result.get()
        StandardError.write("slurm-distil: \(Output.summary(final))\n")
        throw ExitCode(final.exitCode)
    }
}

struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit a job to a Ray cluster and follow its output.",
        discussion: """
            One word after '--' is run as a shell command; several are quoted one by one.

            Examples:
              slurm-distil submit --address http://10.0.0.1:8265 --working-dir . -- python -u pipeline.py
              slurm-distil submit --runtime-env runtime_env.yaml --no-wait -- 'python a.py && python b.py'

            \(ExitKind.helpText(for: [.jobFollowers, .interactiveFollowers]))
            """
    )

    @OptionGroup var cluster: ClusterOptions
    @Option(help: "Folder to upload as the job's working_dir (honours .gitignore and .rayignore).")
    var workingDir: String?
    @Option(help: "runtime_env as YAML; ${VAR} is taken from your environment and never printed.")
    var runtimeEnv: String?
    @Option(help: "runtime_env as JSON.")
    var runtimeEnvJson: String?
    @Option(help: "Submission id (default: a fresh one).")
    var submissionId: String?
    @Option(help: "CPUs reserved for the entrypoint.")
    var entrypointNumCpus: Double?
    @Option(help: "GPUs reserved for the entrypoint.")
    var entrypointNumGpus: Double?
    @Option(help: "Other resources for the entrypoint, as JSON: '{\"custom\": 1}'.")
    var entrypointResources: String?
    @Option(name: .customLong("metadata"), help: "KEY=VALUE metadata (repeatable).")
    var metadata: [String] = []
    @Flag(help: "Print the submission id and return without following the job.")
    var noWait = false
    @Flag(help: "On Ctrl-C, stop the job instead of leaving it running.")
    var stopOnInterrupt = false
    @Argument(parsing: .postTerminator, help: "The entrypoint, after '--'.")
    var entrypoint: [String] = []

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let files = LocalFileSystem()
        var request = JobRequest(entrypoint: entrypoint)
        if runtimeEnv != nil, runtimeEnvJson != nil {
            throw Failure.usage("--runtime-env and --runtime-env-json both given", hint: "use one of them")
        }
        if let runtimeEnv {
            request.runtimeEnv = try RuntimeEnvironment.parse(yaml: files.read(runtimeEnv), path: runtimeEnv, environment: environment)
        } else if let runtimeEnvJson {
            request.runtimeEnv = try RuntimeEnvironment.parse(json: runtimeEnvJson, environment: environment)
        }
        request.workingDir = workingDir
        request.submissionID = submissionId
        request.entrypointNumCPUs = entrypointNumCpus
        request.entrypointNumGPUs = entrypointNumGpus
        if let entrypointResources {
            guard let resources = try? JSONDecoder().decode([String: Double].self, from: Data(entrypointResources.utf8)) else {
                throw Failure.usage("--entrypoint-resources must be a JSON object of numbers", hint: #"e.g. '{"accelerator_type:A100": 1}'"#)
            }
            request.entrypointResources = resources
        }
        for entry in metadata {
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
                throw Failure.usage("invalid --metadata \(entry.debugDescription)", hint: "give KEY=VALUE")
            }
            request.metadata[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
        }
        let client = try cluster.client()
        let prepared = try JobSubmitter.prepare(request, currentDirectory: files.currentDirectory)
        let id = try await JobSubmitter(client: client).submit(prepared) { StandardError.write("slurm-distil: \($0)\n") }
        if noWait {
            print(id)
            StandardError.write("slurm-distil: submitted job \(id); follow it with: slurm-distil logs \(id) --follow\n")
            return
        }
        StandardError.write("slurm-distil: submitted job \(id); following its output (Ctrl-C leaves it running)\n")
        try await JobFollower.follow(id, client: client, redactor: cluster.redactor(for: client, also: prepared.runtimeEnv.secrets), stopOnInterrupt: stopOnInterrupt)
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a job's status; with --job, also Slurm's state, why it waits, and the bring-up.",
        discussion: """
            Examples:
              slurm-distil status sd_abc123
              slurm-distil status sd_abc123 --json
              slurm-distil status --job 1234        # a slurm-distil batch job, from the login node
            """)

    @OptionGroup var cluster: ClusterOptions
    @Argument(help: "Submission id (with --job: the job's pipeline).") var id: String?
    @Flag(help: "Print the whole record as JSON.") var json = false

    func run() async throws {
        if let location = try cluster.location() {
            let report = await JobReport.gather(location, submissionID: id)
            print(json ? try Output.json(report) : report.text)
            return
        }
        let (client, id) = try cluster.target(id)
        let job = try await client.job(id)
        if json {
            print(try Output.json(job))
        } else {
            print(Output.summary(job))
            if let message = job.message, job.status == .failed { print(message.split(separator: "\n").prefix(3).joined(separator: "\n")) }
        }
    }
}

struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a job's output, or follow it until the job ends.",
        discussion: """
            Examples:
              slurm-distil logs sd_abc123
              slurm-distil logs sd_abc123 --follow
              slurm-distil logs --job 1234 --follow   # a slurm-distil batch job, from the login node

            \(ExitKind.helpText(for: [.jobFollowers, .interactiveFollowers], title: "Exit status with --follow:"))
            """)

    @OptionGroup var cluster: ClusterOptions
    @Argument(help: "Submission id (with --job: the job's pipeline).") var id: String?
    @Flag(help: "Keep printing until the job ends; exit with its status (as submit does).") var follow = false
    @Flag(help: "With --follow: on Ctrl-C, stop the job.") var stopOnInterrupt = false

    func run() async throws {
        let (client, id) = try cluster.target(id)
        let redactor = cluster.redactor(for: client)
        if follow {
            try await JobFollower.follow(id, client: client, redactor: redactor, stopOnInterrupt: stopOnInterrupt)
        }
        Output.write(Data(redactor.redact(Array(try await client.logs(id)))))
    }
}

struct Stop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop a job (SIGTERM, then SIGKILL after 3 s).", discussion: "Examples:\n  slurm-distil stop sd_abc123\n  slurm-distil stop --job 1234")

    @OptionGroup var cluster: ClusterOptions
    @Argument(help: "Submission id (with --job: the job's pipeline).") var id: String?

    func run() async throws {
        let (client, id) = try cluster.target(id)
        let stopped = try await client.stop(id)
        print(stopped ? "stopping job \(id)" : "job \(id) was not running")
    }
}

struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete a finished job's record and logs.", discussion: "Example:\n  slurm-distil delete sd_abc123")

    @OptionGroup var cluster: ClusterOptions
    @Argument(help: "Submission id.") var id: String

    func run() async throws {
        _ = try await cluster.client().delete(id)
        print("deleted job \(id)")
    }
}

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the cluster's jobs: whole ids, entrypoints on one line (cut to the terminal's width on a terminal).",
        discussion: "Examples:\n  slurm-distil list\n  slurm-distil list --json")

    @OptionGroup var cluster: ClusterOptions
    @Flag(help: "Print every job's whole record as JSON.") var json = false

    func run() async throws {
        let jobs = try await cluster.client().jobs()
        if json {
            print(try Output.json(JobTable.ordered(jobs)))
            return
        }
        print(JobTable.render(jobs, width: Self.terminalWidth()), terminator: "")
    }

    /// The terminal's width when stdout is a terminal; nil for a pipe or a file, which get whole lines.
    static func terminalWidth() -> Int? {
        guard isatty(STDOUT_FILENO) != 0 else { return nil }
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init) ?? 80
    }
}
