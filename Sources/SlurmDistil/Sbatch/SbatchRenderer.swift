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

    /// The values a template can use: every variable of `TemplateVariable` that this request has.
    public static func context(for request: SbatchRequest, version: String) -> [String: Any] {
        var context: [String: Any] = [:]
        for variable in TemplateVariable.allCases {
            if let value = variable.value(in: request, version: version) { context[variable.rawValue] = value }
        }
        return context
    }

    /// Every name a template could refer to, optional ones included, so that a user's template that
    /// uses `{{gpusPerNode}}` is valid even when this request has no GPUs.
    public static let knownVariables: Set<String> = Set(
        TemplateVariable.allCases.map(\.rawValue) + TemplateVariable.EnvironmentField.allCases.map(\.rawValue))

    /// What the user should know about a valid script: the checks that only Slurm can make.
    public static func warnings(for request: SbatchRequest, template text: String) -> [String] {
        var warnings: [String] = []
        let used = Set(tags(in: text).filter { $0.sigil != "!" }.map { $0.name.split(separator: ".").first.map(String.init) ?? "" })
        if request.time == nil, used.contains(TemplateVariable.signalLead.rawValue) {
            // The limit is then the partition's DefaultTime (else its MaxTime), which only slurmctld knows.
            warnings.append(
                "no --time given: the partition's default time limit applies, and the pipeline is asked to stop \(request.signalLeadSeconds) s before it (--signal-lead); at once if that limit is not longer")
        }
        return warnings
    }

    private static func tags(in text: String) -> [(sigil: String, name: String, range: Range<String.Index>)] {
        let tag = try! NSRegularExpression(pattern: #"\{\{(\{?)\s*([#^/&!>%=]?)\s*([^}]*?)\s*\}?\}\}"#)
        return tag.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { match in
            (
                Range(match.range(at: 2), in: text).map { String(text[$0]) } ?? "",
                Range(match.range(at: 3), in: text).map { String(text[$0]) } ?? "",
                Range(match.range, in: text)!
            )
        }
    }

    /// Refuses a template that names a variable the tool does not provide, instead of rendering it empty.
    static func checkVariables(in text: String, templateName: String) throws(Failure) {
        for (sigil, name, range) in tags(in: text) {
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
                let line = text[..<range.lowerBound].filter { $0 == "\n" }.count + 1
                throw Failure.usage(
                    "template \(templateName) line \(line) uses '\(name)', which slurm-distil does not provide",
                    hint: "the variables are: \(knownVariables.sorted().joined(separator: ", "))")
            }
        }
    }
}

/// One variable of the render context. The exhaustive switch in `value(in:version:)` is the only place a
/// variable gets its value, so the context and the names a template may use cannot drift apart.
public enum TemplateVariable: String, CaseIterable, Sendable {
    case version, jobName, nodes, gpusPerNode, cpusPerTask, memory, time, partition, qos, account, constraint
    case exclusive, output, error, logDir, signalLead, requeue, sbatchArgs, modules, hasModules, venv, venvActivate, condaEnv
    case environment, chdir, launcher, bootstrapArgs, entrypoint, hasEntrypoint

    /// The fields of each `environment` entry.
    public enum EnvironmentField: String, CaseIterable, Sendable { case name, value, inherit }

    /// nil: the request has no such value, so `{{#name}}` sections are skipped.
    func value(in request: SbatchRequest, version: String) -> Any? {
        switch self {
        case .version: version
        case .jobName: request.jobName
        case .nodes: request.nodes
        case .gpusPerNode: request.gpusPerNode.flatMap { $0 > 0 ? $0 : nil }
        case .cpusPerTask: request.cpusPerTask
        case .memory: request.memory
        case .time: request.time?.description
        case .partition: request.partition
        case .qos: request.qos
        case .account: request.account
        case .constraint: request.constraint
        case .exclusive: request.exclusive
        case .output: request.output
        case .error: request.error
        case .logDir: request.logDirectory
        case .signalLead: request.signalLeadSeconds
        case .requeue: request.requeue
        case .sbatchArgs: request.sbatchArguments
        case .modules: request.modules
        case .hasModules: !request.modules.isEmpty
        case .venv: request.venv
        case .venvActivate: request.venv.map { $0 + "/bin/activate" }
        case .condaEnv: request.condaEnv
        case .environment:
            request.environment.map { entry -> [String: Any] in
                let (name, value, inherit): (String, String, Bool) =
                    switch entry {
                    case .assign(let name, let value): (name, value, false)
                    case .inherit(let name): (name, "", true)
                    }
                return [EnvironmentField.name.rawValue: name, EnvironmentField.value.rawValue: value, EnvironmentField.inherit.rawValue: inherit]
            }
        case .chdir: request.chdir
        case .launcher: request.launcher
        case .bootstrapArgs: request.bootstrapArguments
        case .entrypoint: request.entrypoint ?? []
        case .hasEntrypoint: request.entrypoint != nil
        }
    }
}
