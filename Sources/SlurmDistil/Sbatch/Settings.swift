import Foundation

/// One setting of `gen-sbatch`, named as in a profile file (`slurm-distil.yaml`).
public enum SettingKey: String, CaseIterable, Sendable, Comparable {
    case jobName = "job_name"
    case nodes
    case gpusPerNode = "gpus_per_node"
    case cpusPerTask = "cpus_per_task"
    case memory = "mem"
    case time
    case partition
    case qos
    case account
    case constraint
    case exclusive
    case output
    case error
    case logDir = "log_dir"
    case signalLead = "signal_lead"
    case requeue
    case maxRestarts = "max_restarts"
    case onNodeLoss = "on_node_loss"
    case venv
    case condaEnv = "conda_env"
    case modules
    case env
    case chdir
    case launcher
    case workingDir = "working_dir"
    case runtimeEnv = "runtime_env"
    case bootstrapArgs = "bootstrap_args"
    case sbatchArgs = "sbatch_args"
    case template

    public enum Kind: Sendable { case text, integer, flag, list }

    public var kind: Kind {
        switch self {
        case .nodes, .gpusPerNode, .cpusPerTask, .maxRestarts: .integer
        case .exclusive, .requeue: .flag
        case .modules, .env, .bootstrapArgs, .sbatchArgs: .list
        default: .text
        }
    }

    public static func < (lhs: SettingKey, rhs: SettingKey) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

public enum SettingValue: Sendable, Equatable, CustomStringConvertible {
    case text(String)
    case integer(Int)
    case flag(Bool)
    case list([String])

    public var description: String {
        switch self {
        case .text(let value): value
        case .integer(let value): String(value)
        case .flag(let value): value ? "true" : "false"
        case .list(let values): "[" + values.joined(separator: ", ") + "]"
        }
    }
}

/// Where a setting's value came from, for `--show-config` and for error messages.
public enum SettingSource: Sendable, Equatable, CustomStringConvertible {
    case builtIn
    case profile(path: String, line: Int)
    case flag(String)

    public var description: String {
        switch self {
        case .builtIn: "default"
        case .profile(let path, let line): "\(path):\(line)"
        case .flag(let name): name
        }
    }
}

public struct Setting: Sendable, Equatable {
    public var value: SettingValue
    public var source: SettingSource

    public init(_ value: SettingValue, from source: SettingSource) {
        self.value = value
        self.source = source
    }
}

/// Settings in layers: built-in defaults, then a profile, then flags; a later layer wins per key.
public struct Settings: Sendable, Equatable {
    public private(set) var values: [SettingKey: Setting] = [:]

    public init(_ values: [SettingKey: Setting] = [:]) {
        self.values = values
    }

    public subscript(key: SettingKey) -> Setting? {
        get { values[key] }
        set { values[key] = newValue }
    }

    public func overridden(by other: Settings) -> Settings {
        Settings(values.merging(other.values) { _, new in new })
    }

    public static let builtInDefaults = Settings([
        .jobName: Setting(.text("slurm-distil"), from: .builtIn),
        .nodes: Setting(.integer(1), from: .builtIn),
        .logDir: Setting(.text("slurm-distil-logs"), from: .builtIn),
        .signalLead: Setting(.text("120"), from: .builtIn),
        .exclusive: Setting(.flag(false), from: .builtIn),
        .requeue: Setting(.flag(false), from: .builtIn),
        .maxRestarts: Setting(.integer(RequeuePolicy().maxRestarts), from: .builtIn),
        .onNodeLoss: Setting(.text(RequeuePolicy().onNodeLoss.rawValue), from: .builtIn),
        .template: Setting(.text("sbatch"), from: .builtIn),
    ])

    /// The built-in default of `key` as help texts show it.
    public static func builtInDefault(_ key: SettingKey) -> String {
        builtInDefaults[key]?.value.description ?? "none"
    }

    /// The merged settings as `key = value  (source)` lines, in a stable order.
    public func report() -> String {
        let rows = values.keys.sorted().map { key in (key.rawValue, values[key]!.value.description, values[key]!.source.description) }
        let keyWidth = rows.map(\.0.count).max() ?? 0
        let valueWidth = min(rows.map(\.1.count).max() ?? 0, 40)
        return rows.map { key, value, source in
            key.padding(toLength: keyWidth, withPad: " ", startingAt: 0) + " = "
                + value.padding(toLength: max(valueWidth, value.count), withPad: " ", startingAt: 0)
                + "  (" + source + ")"
        }.joined(separator: "\n") + "\n"
    }
}
