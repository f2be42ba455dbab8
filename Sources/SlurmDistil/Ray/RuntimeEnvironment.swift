import Foundation
import Yams

/// A runtime_env (as in distilabel's runtime_env.yaml), checked before Ray sees it: Ray accepts a bad
/// one with 200 and fails the job later, and silently ignores keys it does not know.
public struct RuntimeEnvironment: Sendable, Equatable {
    public var value: JSONValue
    /// Values that came from the caller's environment through `${VAR}`, and env_vars under secret-looking
    /// names: never printed.
    public var secrets: Set<String>

    public static let knownKeys: Set<String> = [
        "working_dir", "py_modules", "py_executable", "pip", "uv", "conda", "container", "image_uri", "env_vars",
        "excludes", "config", "worker_process_setup_hook", "nsight", "rocprof_sys", "mpi", "java_jars",
    ]

    public init(value: JSONValue = .object([:]), secrets: Set<String> = []) {
        self.value = value
        self.secrets = secrets
    }

    public static func parse(yaml text: String, path: String, environment: [String: String]) throws(Failure) -> RuntimeEnvironment {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw Failure.usage("\(path) is not valid YAML: \(String(describing: error).split(separator: "\n").first ?? "")", hint: "fix the file; it must be a mapping such as `env_vars: {HF_HUB_OFFLINE: \"1\"}`")
        }
        guard let root else { return RuntimeEnvironment() }
        var secrets: Set<String> = []
        let value = try convert(root, at: path, environment: environment, secrets: &secrets)
        return try check(value, source: path, secrets: secrets)
    }

    public static func parse(json text: String, environment: [String: String]) throws(Failure) -> RuntimeEnvironment {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
            throw Failure.usage("--runtime-env-json is not valid JSON", hint: #"e.g. --runtime-env-json '{"env_vars": {"A": "1"}}'"#)
        }
        var secrets: Set<String> = []
        return try check(expand(value, environment: environment, secrets: &secrets, at: "--runtime-env-json"), source: "--runtime-env-json", secrets: secrets)
    }

    static func check(_ value: JSONValue, source: String, secrets: Set<String>) throws(Failure) -> RuntimeEnvironment {
        guard case .object(let object) = value else {
            throw Failure.usage("\(source): a runtime_env must be a mapping of keys such as env_vars, pip, working_dir", hint: "known keys: \(knownKeys.sorted().joined(separator: ", "))")
        }
        for key in object.keys.sorted() where !knownKeys.contains(key) {
            throw Failure.usage("\(source): unknown runtime_env key '\(key)' (Ray would silently ignore it)", hint: "known keys: \(knownKeys.sorted().joined(separator: ", "))")
        }
        var secrets = secrets
        if let envVars = object["env_vars"] {
            guard case .object(let variables) = envVars else {
                throw Failure.usage("\(source): env_vars must be a mapping of NAME: \"value\"", hint: #"e.g. env_vars: {HF_HUB_OFFLINE: "1"}"#)
            }
            for (name, entry) in variables.sorted(by: { $0.key < $1.key }) where entry.string == nil {
                throw Failure.usage(
                    "\(source): env_vars.\(name) must be a string, not \(entry.kindName) (Ray accepts it, then fails the job)",
                    hint: "quote the value: \(name): \"...\"")
            }
            // Written into the file itself rather than taken from ${VAR}: still never printed.
            for (name, entry) in variables where SecretRedactor.looksSecret(name) {
                if let text = entry.string { secrets.insert(text) }
            }
        }
        if let workingDir = object["working_dir"], workingDir.string == nil {
            throw Failure.usage("\(source): working_dir must be a path or a URI", hint: "e.g. working_dir: .")
        }
        if let excludes = object["excludes"] {
            guard case .array(let items) = excludes, items.allSatisfy({ $0.string != nil }) else {
                throw Failure.usage("\(source): excludes must be a list of patterns", hint: #"e.g. excludes: ["data/", "*.ckpt"]"#)
            }
        }
        return RuntimeEnvironment(value: value, secrets: secrets)
    }

    public var workingDir: String? {
        get { value["working_dir"]?.string }
        set { value["working_dir"] = newValue.map { .string($0) } }
    }

    public var excludes: [String] {
        if case .array(let items) = value["excludes"] { return items.compactMap(\.string) }
        return []
    }


    private static func convert(_ node: Node, at path: String, environment: [String: String], secrets: inout Set<String>) throws(Failure) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            let line = node.mark?.line ?? 0
            if scalar.style == .plain {
                if node.null != nil { return .null }
                if let bool = node.bool { return .bool(bool) }
                if let int = node.int { return .number(Double(int)) }
                if let double = node.float { return .number(double) }
            }
            return .string(try expand(scalar.string, environment: environment, secrets: &secrets, at: "\(path):\(line)"))
        case .sequence(let sequence):
            var items: [JSONValue] = []
            for item in sequence { items.append(try convert(item, at: path, environment: environment, secrets: &secrets)) }
            return .array(items)
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard let name = key.string else {
                    throw Failure.usage("\(path):\(key.mark?.line ?? 0): keys must be plain names", hint: "check the file's indentation")
                }
                object[name] = try convert(value, at: path, environment: environment, secrets: &secrets)
            }
            return .object(object)
        case .alias:
            throw Failure.usage("\(path): YAML aliases are not supported in a runtime_env", hint: "write the values out")
        }
    }

    private static func expand(_ value: JSONValue, environment: [String: String], secrets: inout Set<String>, at place: String) throws(Failure) -> JSONValue {
        switch value {
        case .string(let text): return .string(try expand(text, environment: environment, secrets: &secrets, at: place))
        case .array(let items):
            var expanded: [JSONValue] = []
            for item in items { expanded.append(try expand(item, environment: environment, secrets: &secrets, at: place)) }
            return .array(expanded)
        case .object(let object):
            var expanded: [String: JSONValue] = [:]
            for (key, item) in object { expanded[key] = try expand(item, environment: environment, secrets: &secrets, at: place) }
            return .object(expanded)
        default: return value
        }
    }

    /// Replaces `${NAME}` with the caller's NAME; `$${` stays a literal `${`.
    static func expand(_ text: String, environment: [String: String], secrets: inout Set<String>, at place: String) throws(Failure) -> String {
        guard text.contains("${") else { return text }
        var output = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            if start.lowerBound > rest.startIndex, rest[rest.index(before: start.lowerBound)] == "$" {
                output += rest[..<rest.index(before: start.lowerBound)] + "${"
                rest = rest[start.upperBound...]
                continue
            }
            output += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                throw Failure.usage("\(place): unclosed ${ in a runtime_env value", hint: "write ${NAME}")
            }
            let name = String(rest[start.upperBound..<end])
            guard let value = environment[name] else {
                throw Failure.usage("\(place): ${\(name)} is not set in the environment", hint: "export \(name) before submitting; its value is sent to Ray but never printed")
            }
            secrets.insert(value)
            output += value
            rest = rest[rest.index(after: end)...]
        }
        return output + rest
    }
}

extension JSONValue {
    var kindName: String {
        switch self {
        case .string: "a string"
        case .number: "a number"
        case .bool: "true/false"
        case .array: "a list"
        case .object: "a mapping"
        case .null: "empty"
        }
    }
}
