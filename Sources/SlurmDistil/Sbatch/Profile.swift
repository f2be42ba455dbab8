import Yams

/// A profile file (`slurm-distil.yaml`): site defaults such as partition, account, venv and modules.
public enum Profile {
    /// Where profiles are looked for, first match wins: the working directory, then the user's config folder.
    public static func searchPaths(workingDirectory: String, environment: [String: String]) -> [String] {
        var paths = [workingDirectory + "/slurm-distil.yaml"]
        if let xdg = environment["XDG_CONFIG_HOME"], !xdg.isEmpty {
            paths.append(xdg + "/slurm-distil/config.yaml")
        } else if let home = environment["HOME"], !home.isEmpty {
            paths.append(home + "/.config/slurm-distil/config.yaml")
        }
        return paths
    }

    /// Parses a profile's text. `path` only names the file in messages and sources.
    public static func parse(_ text: String, path: String) throws(Failure) -> Settings {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw Failure.usage("\(path) is not valid YAML: \(yamlProblem(error))", hint: "fix the file or remove it")
        }
        guard let root else { return Settings() }
        guard case .mapping(let mapping) = root else {
            throw Failure.usage(
                "\(path):\(root.mark?.line ?? 1): a profile must be a mapping of settings (key: value)",
                hint: "for example `partition: gpu`; known keys: \(knownKeys)")
        }
        var settings = Settings()
        for (keyNode, valueNode) in mapping {
            let line = keyNode.mark?.line ?? 0
            guard let name = keyNode.string, let key = SettingKey(rawValue: name) else {
                throw Failure.usage(
                    "\(path):\(line): unknown profile key '\(keyNode.string ?? "?")'",
                    hint: "known keys: \(knownKeys)")
            }
            let value = try settingValue(for: key, from: valueNode, at: "\(path):\(line)")
            settings[key] = Setting(value, from: .profile(path: path, line: line))
        }
        return settings
    }

    static var knownKeys: String { SettingKey.allCases.map(\.rawValue).joined(separator: ", ") }

    private static func settingValue(for key: SettingKey, from node: Node, at place: String) throws(Failure)
        -> SettingValue
    {
        func wrongType(_ expected: String) -> Failure {
            Failure.usage("\(place): '\(key.rawValue)' must be \(expected)", hint: "for example: \(example(for: key))")
        }
        switch key.kind {
        case .integer:
            guard case .scalar = node, let value = node.int else { throw wrongType("a whole number") }
            return .integer(value)
        case .flag:
            guard case .scalar = node, let value = node.bool else { throw wrongType("true or false") }
            return .flag(value)
        case .text:
            guard case .scalar(let scalar) = node else { throw wrongType("a single value") }
            return .text(scalar.string)
        case .list:
            switch node {
            case .sequence(let sequence):
                var items: [String] = []
                for item in sequence {
                    guard case .scalar(let scalar) = item else { throw wrongType("a list of values") }
                    items.append(scalar.string)
                }
                return .list(items)
            case .mapping(let mapping) where key == .env:
                var items: [String] = []
                for (name, value) in mapping {
                    guard case .scalar(let nameScalar) = name, case .scalar(let valueScalar) = value else {
                        throw wrongType("a mapping of NAME: value")
                    }
                    // `HF_TOKEN:` with no value passes the variable on from the submitting environment.
                    items.append(value.null != nil ? nameScalar.string : nameScalar.string + "=" + valueScalar.string)
                }
                return .list(items)
            case .scalar(let scalar):
                return .list([scalar.string])
            default:
                throw wrongType("a list of values")
            }
        }
    }

    private static func example(for key: SettingKey) -> String {
        switch key {
        case .nodes: "nodes: 2"
        case .gpusPerNode: "gpus_per_node: 4"
        case .cpusPerTask: "cpus_per_task: 16"
        case .exclusive: "exclusive: true"
        case .requeue: "requeue: true"
        case .maxRestarts: "max_restarts: 3"
        case .onNodeLoss: "on_node_loss: requeue"
        case .modules: "modules: [cuda/12.4, gcc]"
        case .env: "env: {HF_HUB_OFFLINE: \"1\"}"
        case .bootstrapArgs: "bootstrap_args: [--object-store-memory, 2G]"
        case .sbatchArgs: "sbatch_args: [--mail-type=END]"
        default: "\(key.rawValue): value"
        }
    }

    private static func yamlProblem(_ error: any Error) -> String {
        if let yamlError = error as? YamlError {
            switch yamlError {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
                .composer(_, let problem, let mark, _):
                return "\(problem) at line \(mark.line), column \(mark.column)"
            default:
                break
            }
        }
        return String(describing: error).split(separator: "\n").first.map(String.init) ?? "unreadable"
    }
}
