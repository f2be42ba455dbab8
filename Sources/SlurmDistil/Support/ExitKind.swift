/// Every exit status the tool gives, with its meaning: the one table behind every help text, the
/// README's table (a unit test keeps it equal) and RELIABILITY.md.
///
/// The numbers are part of the interface: scripts and the batch job depend on them.
public enum ExitKind: Int32, Sendable, Equatable, CaseIterable, Codable {
    case success = 0
    /// Anything else that failed at run time.
    case runtime = 1
    /// A flag, value, profile, template or input file is wrong. Nothing was started.
    case usage = 2
    /// The machine or allocation lacks something (not inside a Slurm job, no slurm.conf, a missing program).
    case environment = 3
    /// A server could not be reached or answered nonsense.
    case connection = 4
    /// A server refused our credentials.
    case authentication = 5
    case jobFailedWithoutExitCode = 6
    case jobStopped = 7
    case stalled = 8
    case maxRuntime = 9
    case requeued = 10
    case interrupted = 130
    case terminated = 143

    public var code: Int32 { rawValue }

    /// Who can end with a status: every command, the commands that follow a Ray job to its end, or bootstrap.
    public enum Scope: Sendable, Equatable {
        case everyCommand
        /// `submit` and `logs --follow`, and bootstrap, which exits as the pipeline did.
        case jobFollowers
        /// `submit` and `logs --follow` only: bootstrap has no terminal to interrupt it.
        case interactiveFollowers
        case bootstrap
    }

    public var scope: Scope {
        switch self {
        case .success, .runtime, .usage, .environment, .connection, .authentication: .everyCommand
        case .jobFailedWithoutExitCode, .jobStopped: .jobFollowers
        case .interrupted: .interactiveFollowers
        case .stalled, .maxRuntime, .requeued, .terminated: .bootstrap
        }
    }

    public var meaning: String {
        switch self {
        case .success: "success"
        case .runtime: "a run-time failure"
        case .usage: "bad input: a flag, value, profile, template or file; nothing was started or written"
        case .environment: "the environment lacks something (not inside an allocation, no slurm.conf or libslurm, a missing program)"
        case .connection: "a server (Ray's dashboard) could not be reached, or the cluster was lost"
        case .authentication: "a server refused the credentials (Ray token)"
        case .jobFailedWithoutExitCode: "the job FAILED without an exit code of its own (e.g. runtime_env set-up failed)"
        case .jobStopped: "the job was STOPPED"
        case .stalled: "the pipeline printed nothing for --stall-timeout and was stopped"
        case .maxRuntime: "the pipeline ran longer than --max-runtime and was stopped"
        case .requeued: "the attempt was stopped (time limit, preemption, a lost node) and the job requeued; the next attempt resumes"
        case .interrupted: "interrupted with Ctrl-C; the job keeps running (unless --stop-on-interrupt)"
        case .terminated: "got SIGTERM (scancel, or the signal before the time limit) and stopped the pipeline"
        }
    }

    /// The row that is not one number: a job that failed with its entrypoint's own exit code.
    public static let entrypointExitCodeMeaning = "the job FAILED with its entrypoint's exit code N"

    /// Rows in table order, the entrypoint's own code (`N`) after the fixed small numbers.
    static func rows(where include: (Scope) -> Bool, entrypointCode: Bool) -> [(code: String, scope: Scope?, meaning: String)] {
        var rows = allCases.filter { include($0.scope) && $0.rawValue < 100 }.map { (code: String($0.rawValue), scope: Optional($0.scope), meaning: $0.meaning) }
        if entrypointCode { rows.append((code: "N", scope: nil, meaning: entrypointExitCodeMeaning)) }
        rows += allCases.filter { include($0.scope) && $0.rawValue >= 100 }.map { (code: String($0.rawValue), scope: Optional($0.scope), meaning: $0.meaning) }
        return rows
    }

    /// The exit statuses one command can end with, for its `--help`.
    public static func helpText(for scopes: Set<Scope>, title: String = "Exit status:") -> String {
        let followsJobs = scopes.contains(.jobFollowers)
        let lines = rows(where: { $0 == .everyCommand || scopes.contains($0) }, entrypointCode: followsJobs).map { row in
            "  \(row.code.padding(toLength: 4, withPad: " ", startingAt: 0))\(row.meaning)"
        }
        return title + "\n" + lines.joined(separator: "\n")
    }

    /// The README's table.
    public static var markdownTable: String {
        let who: (Scope?) -> String = { scope in
            switch scope {
            case .everyCommand: "any command"
            case .jobFollowers, nil: "`submit`, `logs --follow`, `bootstrap`"
            case .interactiveFollowers: "`submit`, `logs --follow`"
            case .bootstrap: "`bootstrap`"
            }
        }
        let lines = rows(where: { _ in true }, entrypointCode: true).map { "| \($0.code) | \(who($0.scope)) | \($0.meaning) |" }
        return (["| code | from | meaning |", "|---|---|---|"] + lines).joined(separator: "\n")
    }

    /// "8 (stalled)" and the like, for reports; an entrypoint's own code is named as such.
    public static func describe(_ code: Int32) -> String {
        guard let known = ExitKind(rawValue: code) else { return "\(code) (the entrypoint's own exit code)" }
        return "\(code) (\(known.meaning))"
    }
}
