import ArgumentParser
import Foundation
import SlurmDistil

struct GenSbatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen-sbatch",
        abstract: "Write an sbatch script that runs a pipeline on a Ray cluster across the allocation.",
        discussion: """
            Defaults come from a profile: ./slurm-distil.yaml, else $XDG_CONFIG_HOME/slurm-distil/config.yaml
            (keys: \(SettingKey.allCases.map(\.rawValue).joined(separator: ", "))). Flags override it.

            Examples:
              slurm-distil gen-sbatch --nodes 2 --gpus-per-node 1 --time 0:30:00 -- python -u pipeline.py > job.sh
              slurm-distil gen-sbatch --nodes 2 --gpus-per-node 1 > job.sh && sbatch job.sh python -u pipeline.py
              slurm-distil gen-sbatch -N 4 -p gpu -A myproj --venv ~/envs/ray --env HF_TOKEN -- python pipe.py
              slurm-distil gen-sbatch -N 2 -t 24:00:00 --requeue --max-restarts 3 > job.sh
              slurm-distil gen-sbatch --show-config
            """
    )

    @Option(name: [.customShort("N"), .long], parsing: .unconditional, help: "Number of nodes (one Ray node each; default \(Settings.builtInDefault(.nodes))).")
    var nodes: Int?
    @Option(parsing: .unconditional, help: "GPUs per node (--gpus-per-node).")
    var gpusPerNode: Int?
    @Option(parsing: .unconditional, help: "CPUs for the one task on each node.")
    var cpusPerTask: Int?
    @Option(help: "Memory per node, e.g. 64G (--mem).")
    var mem: String?
    @Option(name: [.customShort("t"), .long], parsing: .unconditional, help: "Time limit in a Slurm form: 30, 0:30:00, 1-12 ...")
    var time: String?
    @Option(name: [.customShort("p"), .long], help: "Partition.")
    var partition: String?
    @Option(help: "Quality of service.")
    var qos: String?
    @Option(name: [.customShort("A"), .long], help: "Account to charge.")
    var account: String?
    @Option(name: [.customShort("C"), .long], help: "Node features (--constraint).")
    var constraint: String?
    @Flag(help: "Ask for whole nodes (--exclusive).")
    var exclusive = false
    @Option(name: [.customShort("J"), .long], help: "Job name (default \(Settings.builtInDefault(.jobName))).")
    var jobName: String?
    @Option(help: "Folder for the job's output files (default \(Settings.builtInDefault(.logDir)), created here).")
    var logDir: String?
    @Option(help: "Slurm output file (default LOG_DIR/%x-%j.out).")
    var output: String?
    @Option(help: "Slurm error file (default: with the output).")
    var error: String?
    @Option(parsing: .unconditional, help: "How long before the time limit Slurm asks the pipeline to stop: 120, 90s, 5m (default \(Settings.builtInDefault(.signalLead))).")
    var signalLead: String?
    @Flag(help: "Let Slurm requeue the job (preemption) and append to its output (--requeue, --open-mode=append); bootstrap then stops the pipeline gracefully and the next attempt resumes.")
    var requeue = false
    @Option(parsing: .unconditional, help: "How many times bootstrap may requeue the job itself, at the time limit or after losing a node: 0 to \(SbatchRequest.maximumRestarts); more than 0 implies --requeue (default \(Settings.builtInDefault(.maxRestarts))).")
    var maxRestarts: Int?
    @Option(help: "When the job loses a node: fail, or requeue it so the next attempt resumes on healthy nodes (counts as a restart, needs --max-restarts; default \(Settings.builtInDefault(.onNodeLoss))).")
    var onNodeLoss: String?
    @Option(help: "Python venv to activate on every node.")
    var venv: String?
    @Option(help: "Conda environment to activate.")
    var condaEnv: String?
    @Option(name: .customLong("module"), help: "Environment module to load (repeatable).")
    var modules: [String] = []
    @Option(name: .customLong("env"), help: "NAME=value to set, or a bare NAME to pass on from the submitting shell (repeatable; use the bare form for secrets).")
    var environment: [String] = []
    @Option(help: "Folder to change to before starting.")
    var chdir: String?
    @Option(help: "Path of slurm-distil on the cluster (default: this binary's absolute path).")
    var launcher: String?
    @Option(help: "Folder to upload as the pipeline's working_dir.")
    var workingDir: String?
    @Option(help: "runtime_env.yaml for the pipeline.")
    var runtimeEnv: String?
    @Option(name: .customLong("bootstrap-arg"), parsing: .unconditionalSingleValue, help: "Extra argument for `slurm-distil bootstrap` (repeatable).")
    var bootstrapArguments: [String] = []
    @Option(name: .customLong("sbatch-arg"), parsing: .unconditionalSingleValue, help: "Extra #SBATCH option, e.g. --sbatch-arg=--mail-type=END (repeatable).")
    var sbatchArguments: [String] = []
    @Option(help: "Template: a built-in name (see `slurm-distil templates list`) or a file.")
    var template: String?
    @Option(name: [.customShort("o"), .long], help: "Write the script to this file instead of stdout.")
    var outputFile: String?
    @Option(help: "Profile file to read instead of the default locations.")
    var profile: String?
    @Flag(help: "Read no profile.")
    var noProfile = false
    @Flag(help: "Print the merged settings and where each came from, then exit.")
    var showConfig = false

    @Argument(parsing: .postTerminator, help: "The pipeline command, after `--`. Without it the script takes the command at submission.")
    var entrypoint: [String] = []

    func flagSettings() -> Settings {
        var settings = Settings()
        func put(_ key: SettingKey, _ flag: String, _ value: SettingValue?) {
            if let value { settings[key] = Setting(value, from: .flag(flag)) }
        }
        put(.nodes, "--nodes", nodes.map { .integer($0) })
        put(.gpusPerNode, "--gpus-per-node", gpusPerNode.map { .integer($0) })
        put(.cpusPerTask, "--cpus-per-task", cpusPerTask.map { .integer($0) })
        put(.memory, "--mem", mem.map { .text($0) })
        put(.time, "--time", time.map { .text($0) })
        put(.partition, "--partition", partition.map { .text($0) })
        put(.qos, "--qos", qos.map { .text($0) })
        put(.account, "--account", account.map { .text($0) })
        put(.constraint, "--constraint", constraint.map { .text($0) })
        put(.exclusive, "--exclusive", exclusive ? .flag(true) : nil)
        put(.jobName, "--job-name", jobName.map { .text($0) })
        put(.logDir, "--log-dir", logDir.map { .text($0) })
        put(.output, "--output", output.map { .text($0) })
        put(.error, "--error", error.map { .text($0) })
        put(.signalLead, "--signal-lead", signalLead.map { .text($0) })
        put(.requeue, "--requeue", requeue ? .flag(true) : nil)
        put(.maxRestarts, "--max-restarts", maxRestarts.map { .integer($0) })
        put(.onNodeLoss, "--on-node-loss", onNodeLoss.map { .text($0) })
        put(.venv, "--venv", venv.map { .text($0) })
        put(.condaEnv, "--conda-env", condaEnv.map { .text($0) })
        put(.modules, "--module", modules.isEmpty ? nil : .list(modules))
        put(.env, "--env", environment.isEmpty ? nil : .list(environment))
        put(.chdir, "--chdir", chdir.map { .text($0) })
        put(.launcher, "--launcher", launcher.map { .text($0) })
        put(.workingDir, "--working-dir", workingDir.map { .text($0) })
        put(.runtimeEnv, "--runtime-env", runtimeEnv.map { .text($0) })
        put(.bootstrapArgs, "--bootstrap-arg", bootstrapArguments.isEmpty ? nil : .list(bootstrapArguments))
        put(.sbatchArgs, "--sbatch-arg", sbatchArguments.isEmpty ? nil : .list(sbatchArguments))
        put(.template, "--template", template.map { .text($0) })
        return settings
    }

    func run() async throws {
        let files = LocalFileSystem()
        let environment = ProcessInfo.processInfo.environment
        let profileSettings = try ProfileLoader(files: files).load(
            explicitPath: profile, disabled: noProfile,
            workingDirectory: files.currentDirectory, environment: environment)
        let settings = Settings.builtInDefaults.overridden(by: profileSettings).overridden(by: flagSettings())
        if showConfig {
            print(settings.report(), terminator: "")
            return
        }
        let request = try SbatchRequest(
            settings: settings,
            entrypoint: CommandRunner.terminatorGiven ? entrypoint : nil,
            defaultLauncher: files.executablePath)
        let (templateName, templateText) = try TemplateCatalog(files: files).resolve(request.template)
        let script = try SbatchRenderer.render(
            request, template: templateText, templateName: templateName, version: SlurmDistilVersion.current)

        if let outputFile {
            let folder = (outputFile as NSString).deletingLastPathComponent
            guard folder.isEmpty || files.fileExists(folder) else {
                throw Failure.usage("the folder \(folder) of --output-file does not exist", hint: "create it first, or write the script elsewhere")
            }
        }
        // Nothing is left behind by a failure: the log folder is only kept once the script is written.
        let createdLogDirectory = try !request.logDirectory.contains("%") && files.createDirectoryIfMissing(request.logDirectory)
        if let outputFile {
            do {
                try files.write(script, to: outputFile, executable: true)
            } catch {
                if createdLogDirectory { try? FileManager.default.removeItem(atPath: request.logDirectory) }
                throw error
            }
        }
        // After everything that can fail: an error stays the first line of a failed run.
        for warning in SbatchRenderer.warnings(for: request, template: templateText) {
            StandardError.write("slurm-distil: warning: \(warning)\n")
        }
        if createdLogDirectory {
            StandardError.write("slurm-distil: created \(request.logDirectory)/ for the job's output (Slurm does not create it)\n")
        }
        if let outputFile {
            StandardError.write("slurm-distil: wrote \(outputFile); submit it with: sbatch \(outputFile)\(request.entrypoint == nil ? " COMMAND..." : "")\n")
        } else {
            print(script, terminator: "")
        }
    }
}
