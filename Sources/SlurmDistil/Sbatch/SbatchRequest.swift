import Foundation

/// Everything a batch script needs, checked: every value here is safe to render.
public struct SbatchRequest: Sendable, Equatable {
    public var jobName: String
    public var nodes: Int
    public var gpusPerNode: Int?
    public var cpusPerTask: Int?
    public var memory: String?
    public var time: SlurmTime?
    public var partition: String?
    public var qos: String?
    public var account: String?
    public var constraint: String?
    public var exclusive: Bool
    public var logDirectory: String
    public var output: String
    public var error: String?
    public var signalLeadSeconds: Int
    /// Slurm may requeue the job (`--requeue`), and every attempt appends to the same output files.
    public var requeue: Bool
    /// How many times bootstrap may requeue the job itself (at the time limit, or after losing a node); 0: never.
    public var maxRestarts: Int
    public var onNodeLoss: RequeuePolicy.NodeLoss
    public var venv: String?
    public var condaEnv: String?
    public var modules: [String]
    public var environment: [EnvironmentEntry]
    public var chdir: String?
    public var launcher: String
    public var bootstrapArguments: [String]
    public var sbatchArguments: [String]
    /// nil: the script takes the command from its own arguments at submission (`sbatch job.sh CMD...`).
    public var entrypoint: [String]?
    public var template: String

    /// `NAME=value` sets a value in the script; a bare `NAME` requires it from the submitting environment,
    /// so that secrets never have to be written into the script.
    public enum EnvironmentEntry: Sendable, Equatable {
        case assign(name: String, value: String)
        case inherit(name: String)
    }

    public static let maximumSignalLead = 65_535
    public static let maximumRestarts = RequeuePolicy.maximumRestarts

    /// Builds and checks a request from merged settings. `entrypoint` is what followed `--`, nil if no `--`.
    public init(settings: Settings, entrypoint: [String]?, defaultLauncher: String) throws(Failure) {
        // Settings.builtInDefaults is the one owner of every default; a caller that merged them already
        // loses nothing, one that did not still gets them.
        let reader = SettingReader(settings: Settings.builtInDefaults.overridden(by: settings))
        jobName = try reader.present(reader.directive(.jobName), .jobName)
        nodes = try reader.present(reader.integer(.nodes, atLeast: 1), .nodes)
        gpusPerNode = try reader.integer(.gpusPerNode, atLeast: 0)
        cpusPerTask = try reader.integer(.cpusPerTask, atLeast: 1)
        memory = try reader.directive(.memory)
        if let memory, memory.range(of: #"^[0-9]+[KMGTkmgt]?$"#, options: .regularExpression) == nil {
            throw reader.invalid(.memory, memory, hint: "give a size such as 64G, 512M or 0 (all of the node's memory)")
        }
        if let text = reader.text(.time) {
            do {
                time = try SlurmTime(parsing: text)
            } catch {
                throw reader.annotate(error, .time)
            }
        }
        partition = try reader.directive(.partition)
        qos = try reader.directive(.qos)
        account = try reader.directive(.account)
        constraint = try reader.directive(.constraint)
        exclusive = reader.flag(.exclusive)
        logDirectory = try reader.present(reader.directive(.logDir), .logDir)
        output = try reader.directive(.output) ?? "\(logDirectory)/%x-%j.out"
        error = try reader.directive(.error)
        do {
            signalLeadSeconds = try DurationText.seconds(parsing: reader.present(reader.text(.signalLead), .signalLead), option: "signal lead")
        } catch {
            throw reader.annotate(error, .signalLead)
        }
        if signalLeadSeconds == 0 {
            throw reader.invalid(
                .signalLead, reader.text(.signalLead) ?? "0",
                hint: "a lead of 0 s signals the pipeline only when Slurm ends the job anyway; give the time it needs to stop, e.g. 120 or 5m")
        }
        if signalLeadSeconds > Self.maximumSignalLead {
            throw reader.invalid(
                .signalLead, String(signalLeadSeconds), hint: "Slurm's --signal accepts at most \(Self.maximumSignalLead) seconds")
        }
        if let limit = time?.seconds, signalLeadSeconds >= limit {
            throw Failure.usage(
                "the signal lead time (\(signalLeadSeconds) s, \(reader.source(.signalLead))) is not shorter than the time limit (\(time!), \(reader.source(.time)))",
                hint: "give a longer --time or a shorter --signal-lead, so the pipeline runs before it is asked to stop")
        }
        maxRestarts = try reader.present(
            reader.integer(
                .maxRestarts, atLeast: 0, atMost: Self.maximumRestarts,
                hint: "give a whole number from 0 to \(Self.maximumRestarts): how many times bootstrap may requeue the job (0: never)"),
            .maxRestarts)
        let nodeLoss = try reader.present(reader.text(.onNodeLoss), .onNodeLoss)
        guard let onNodeLoss = RequeuePolicy.NodeLoss(rawValue: nodeLoss) else {
            throw reader.invalid(
                .onNodeLoss, nodeLoss,
                hint: "the valid values are fail (the job fails when it loses a node) and requeue (bootstrap requeues the job, counted against --max-restarts)")
        }
        self.onNodeLoss = onNodeLoss
        if onNodeLoss == .requeue, maxRestarts == 0 {
            throw Failure.usage(
                "--on-node-loss requeue needs --max-restarts N (N > 0): each requeue counts as a restart; on_node_loss is requeue (\(reader.source(.onNodeLoss))), max_restarts is 0 (\(reader.source(.maxRestarts)))",
                hint: "give --max-restarts N (max_restarts: N in a profile), or leave --on-node-loss at fail")
        }
        // A job bootstrap may requeue must be requeueable; on_node_loss requeue has restarts, checked above.
        requeue = reader.flag(.requeue) || maxRestarts > 0
        venv = try reader.path(.venv)
        condaEnv = try reader.word(.condaEnv)
        if venv != nil, condaEnv != nil {
            throw Failure.usage(
                "both a venv (\(reader.source(.venv))) and a conda environment (\(reader.source(.condaEnv))) were given",
                hint: "choose one of --venv and --conda-env")
        }
        modules = try reader.list(.modules).map { (module) throws(Failure) in
            try reader.checkWord(module, .modules)
        }
        environment = try reader.list(.env).map { (entry) throws(Failure) in try Self.environmentEntry(entry, reader) }
        chdir = try reader.path(.chdir)
        launcher = try reader.path(.launcher) ?? defaultLauncher
        bootstrapArguments = []
        if let workingDir = try reader.path(.workingDir) {
            bootstrapArguments += ["--working-dir", workingDir]
        }
        if let runtimeEnv = try reader.path(.runtimeEnv) {
            bootstrapArguments += ["--runtime-env", runtimeEnv]
        }
        if maxRestarts > 0 {
            bootstrapArguments += ["--max-restarts", String(maxRestarts)]
        }
        if onNodeLoss != .fail {
            bootstrapArguments += ["--on-node-loss", onNodeLoss.rawValue]
        }
        bootstrapArguments += try reader.list(.bootstrapArgs).map { (argument) throws(Failure) in
            try reader.checkLine(argument, .bootstrapArgs)
        }
        sbatchArguments = try reader.list(.sbatchArgs).map { (argument) throws(Failure) in
            let checked = try reader.checkDirective(argument, .sbatchArgs)
            guard checked.hasPrefix("-") else {
                throw reader.invalid(.sbatchArgs, argument, hint: "give the option as sbatch spells it, e.g. --mail-type=END")
            }
            return checked
        }
        if let entrypoint {
            guard !entrypoint.isEmpty else {
                throw Failure.usage(
                    "nothing follows '--': the pipeline command is empty",
                    hint: "put the command after '--' (… -- python -u pipeline.py), or leave out '--' to give it at submission (sbatch job.sh python -u pipeline.py)")
            }
            guard !entrypoint[0].trimmingCharacters(in: .whitespaces).isEmpty else {
                throw Failure.usage("the pipeline command after '--' starts with an empty word", hint: "check the quoting of the command after '--'")
            }
            for word in entrypoint where word.contains("\0") {
                throw Failure.usage("the pipeline command contains a NUL byte: \(MessageQuoting.quote(word))")
            }
        }
        self.entrypoint = entrypoint
        template = try reader.present(reader.text(.template), .template)
    }

    private static func environmentEntry(_ text: String, _ reader: SettingReader) throws(Failure) -> EnvironmentEntry {
        let name = String(text.prefix { $0 != "=" })
        guard name.range(of: #"^[A-Za-z_][A-Za-z0-9_]*$"#, options: .regularExpression) != nil else {
            throw reader.invalid(.env, text, hint: "give NAME=value, or a bare NAME to pass it on from the environment sbatch runs in; NAME is letters, digits and _")
        }
        guard text.count > name.count else { return .inherit(name: name) }
        let value = String(text.dropFirst(name.count + 1))
        guard !SecretRedactor.looksSecret(name) else {
            // The message must not repeat the value either.
            throw Failure.usage(
                "\(name) looks like a secret; its value would be written into the batch script (\(reader.optionName(.env)))",
                hint: "give the bare name (--env \(name)) and export \(name) in the shell that runs sbatch: Slurm passes it on")
        }
        guard !value.contains("\0") else { throw reader.invalid(.env, text, hint: "values cannot contain NUL bytes") }
        return .assign(name: name, value: value)
    }
}

/// Reads typed values out of merged settings, with errors that name the setting and where it came from.
struct SettingReader {
    let settings: Settings

    func source(_ key: SettingKey) -> String {
        settings[key]?.source.description ?? "default"
    }

    func optionName(_ key: SettingKey) -> String {
        switch settings[key]?.source {
        case .flag(let name): name
        case .profile(let path, let line): "'\(key.rawValue)' at \(path):\(line)"
        case .builtIn, nil: key.rawValue
        }
    }

    func invalid(_ key: SettingKey, _ value: String, hint: String) -> Failure {
        Failure.usage("invalid value \(MessageQuoting.quote(value)) for \(optionName(key))", hint: hint)
    }

    func annotate(_ failure: Failure, _ key: SettingKey) -> Failure {
        Failure(failure.kind, failure.message + " (\(optionName(key)))", hint: failure.hint)
    }

    /// A value every merged setting has (from Settings.builtInDefaults); only a wrong type can lose it.
    func present<Value>(_ value: Value?, _ key: SettingKey) throws(Failure) -> Value {
        guard let value else {
            throw invalid(key, settings[key]?.value.description ?? "", hint: "give a single value, e.g. \(key.rawValue): \(Settings.builtInDefaults[key]?.value.description ?? "value")")
        }
        return value
    }

    func text(_ key: SettingKey) -> String? {
        switch settings[key]?.value {
        case .text(let value): value
        case .integer(let value): String(value)
        default: nil
        }
    }

    func integer(_ key: SettingKey, atLeast minimum: Int, atMost maximum: Int = 1_000_000, hint: String? = nil) throws(Failure) -> Int? {
        let hint = hint ?? "give a whole number of at least \(minimum)"
        let value: Int
        switch settings[key]?.value {
        case nil: return nil
        case .integer(let number): value = number
        case .text(let text):
            guard let number = Int(text) else {
                throw invalid(key, text, hint: hint)
            }
            value = number
        default:
            throw invalid(key, settings[key]!.value.description, hint: hint)
        }
        guard value >= minimum, value <= maximum else {
            throw invalid(key, String(value), hint: hint)
        }
        return value
    }

    func flag(_ key: SettingKey) -> Bool {
        if case .flag(let value) = settings[key]?.value { value } else { false }
    }

    func list(_ key: SettingKey) -> [String] {
        switch settings[key]?.value {
        case .list(let values): values
        case .text(let value): [value]
        default: []
        }
    }

    /// A value that goes into an `#SBATCH` line, which sbatch reads without shell quoting:
    /// it must be one plain word.
    func directive(_ key: SettingKey) throws(Failure) -> String? {
        guard let value = text(key) else { return nil }
        return try checkDirective(value, key)
    }

    func checkDirective(_ value: String, _ key: SettingKey) throws(Failure) -> String {
        guard !value.isEmpty else { throw invalid(key, value, hint: "give a non-empty value") }
        let forbidden = value.unicodeScalars.first { scalar in
            scalar.properties.isWhitespace || scalar.value < 0x20 || scalar.value == 0x7F
                || "\"'\\`$;#".unicodeScalars.contains(scalar)
        }
        if let forbidden {
            throw invalid(
                key, value,
                hint: "#SBATCH lines are not read by a shell, so this value must be one word without spaces, quotes, \\, `, $, ; or # (found \(MessageQuoting.quote(String(forbidden))))")
        }
        return value
    }

    /// A name rendered into a shell command, quoted there; newlines would still break `module load`.
    func word(_ key: SettingKey) throws(Failure) -> String? {
        guard let value = text(key) else { return nil }
        return try checkWord(value, key)
    }

    func checkWord(_ value: String, _ key: SettingKey) throws(Failure) -> String {
        guard !value.isEmpty, !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw invalid(key, value, hint: "give a non-empty name without newlines or control characters")
        }
        return value
    }

    func checkLine(_ value: String, _ key: SettingKey) throws(Failure) -> String {
        guard !value.contains("\0") else { throw invalid(key, value, hint: "values cannot contain NUL bytes") }
        return value
    }

    func path(_ key: SettingKey) throws(Failure) -> String? {
        guard let value = text(key) else { return nil }
        guard !value.isEmpty, !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw invalid(key, value, hint: "give a path without newlines or control characters")
        }
        return value
    }
}
