import Foundation
import Mustache

/// Mustache content type for shell scripts: `{{value}}` renders as one shell word that reads back as the value.
struct ShellWordContentType: MustacheContentType {
    func escapeText(_ text: String) -> String { ShellQuoting.quote(text) }
}

/// Renders batch scripts from Mustache templates.
///
/// In a template `{{name}}` is a shell-quoted word and `{{{name}}}` is the value as is; the raw form is
/// only given values that were checked to be plain words (the `#SBATCH` lines, which no shell reads).
public enum SbatchRenderer {
    public static let shellContentType = "SHELL"

    /// The templates compiled into the binary, by name (`sbatch`, `sbatch-srun`, ...).
    public static var builtInTemplates: [String: String] { EmbeddedTemplates.all }

    public static func render(_ request: SbatchRequest, template text: String, templateName: String, version: String)
        throws(Failure) -> String
    {
        let context = context(for: request, version: version)
        try checkVariables(in: text, templateName: templateName)
        MustacheContentTypes.register(ShellWordContentType(), named: shellContentType)
        let template: MustacheTemplate
        do {
            // The pragma comes first so that no template, built in or the user's, renders HTML-escaped values.
            template = try MustacheTemplate(string: "{{% CONTENT_TYPE: \(shellContentType)}}" + text)
        } catch {
            throw Failure.usage("template \(templateName) cannot be parsed: \(error)", hint: "check its {{…}} tags")
        }
        return template.render(context)
    }

    /// The values a template can use. Everything `SbatchRequest` holds is here; nothing else is.
    public static func context(for request: SbatchRequest, version: String) -> [String: Any] {
        var context: [String: Any] = [
            "version": version,
            "jobName": request.jobName,
            "nodes": request.nodes,
            "exclusive": request.exclusive,
            "output": request.output,
            "logDir": request.logDirectory,
            "signalLead": request.signalLeadSeconds,
            "sbatchArgs": request.sbatchArguments,
            "modules": request.modules,
            "hasModules": !request.modules.isEmpty,
            "environment": request.environment.map { entry -> [String: Any] in
                switch entry {
                case .assign(let name, let value): ["name": name, "value": value, "inherit": false]
                case .inherit(let name): ["name": name, "value": "", "inherit": true]
                }
            },
            "launcher": request.launcher,
            "bootstrapArgs": request.bootstrapArguments,
            "entrypoint": request.entrypoint ?? [],
            "hasEntrypoint": request.entrypoint != nil,
        ]
        func put(_ key: String, _ value: Any?) {
            if let value { context[key] = value }
        }
        put("gpusPerNode", request.gpusPerNode.flatMap { $0 > 0 ? $0 : nil })
        put("cpusPerTask", request.cpusPerTask)
        put("memory", request.memory)
        put("time", request.time?.description)
        put("partition", request.partition)
        put("qos", request.qos)
        put("account", request.account)
        put("constraint", request.constraint)
        put("error", request.error)
        put("venv", request.venv)
        put("venvActivate", request.venv.map { $0 + "/bin/activate" })
        put("condaEnv", request.condaEnv)
        put("chdir", request.chdir)
        return context
    }

    /// Every name a template could refer to, optional ones included, so that a user's template that
    /// uses `{{gpusPerNode}}` is valid even when this request has no GPUs.
    public static let knownVariables: Set<String> = [
        "version", "jobName", "nodes", "gpusPerNode", "cpusPerTask", "memory", "time", "partition", "qos",
        "account", "constraint", "exclusive", "output", "error", "logDir", "signalLead", "sbatchArgs", "modules",
        "hasModules", "venv", "venvActivate", "condaEnv", "environment", "name", "value", "inherit", "chdir",
        "launcher", "bootstrapArgs", "entrypoint", "hasEntrypoint",
    ]

    /// Refuses a template that names a variable the tool does not provide, instead of rendering it empty.
    static func checkVariables(in text: String, templateName: String) throws(Failure) {
        let tag = try! NSRegularExpression(pattern: #"\{\{(\{?)\s*([#^/&!>%=]?)\s*([^}]*?)\s*\}?\}\}"#)
        let range = NSRange(text.startIndex..., in: text)
        for match in tag.matches(in: text, range: range) {
            let sigil = Range(match.range(at: 2), in: text).map { String(text[$0]) } ?? ""
            let name = Range(match.range(at: 3), in: text).map { String(text[$0]) } ?? ""
            switch sigil {
            case "!":
                continue
            case ">", "=", "%":
                throw Failure.usage(
                    "template \(templateName) uses '{{\(sigil)…}}', which slurm-distil templates do not support",
                    hint: "use plain {{name}} tags and sections; the variables are: \(knownVariables.sorted().joined(separator: ", "))")
            default:
                let head = name.split(separator: ".").first.map(String.init) ?? "."
                if name == "." || knownVariables.contains(head) { continue }
                let line = text[..<Range(match.range, in: text)!.lowerBound].filter { $0 == "\n" }.count + 1
                throw Failure.usage(
                    "template \(templateName) line \(line) uses '\(name)', which slurm-distil does not provide",
                    hint: "the variables are: \(knownVariables.sorted().joined(separator: ", "))")
            }
        }
    }
}
