/// What kind of thing went wrong, which decides the process exit status.
///
/// The numbers are part of the interface (README "Exit codes"): scripts and the batch job depend on them.
public enum FailureKind: Sendable, Equatable, CaseIterable {
    /// A flag, value, profile, template or input file is wrong. Nothing was started.
    case usage
    /// The machine or allocation lacks something (not inside a Slurm job, no slurm.conf, a missing program).
    case environment
    /// A server could not be reached or answered nonsense.
    case connection
    /// A server refused our credentials.
    case authentication
    /// Anything else that failed at run time.
    case runtime

    public var exitCode: Int32 {
        switch self {
        case .runtime: 1
        case .usage: 2
        case .environment: 3
        case .connection: 4
        case .authentication: 5
        }
    }

    public var summary: String {
        switch self {
        case .runtime: "a run-time failure"
        case .usage: "bad input: a flag, value, profile, template or file; nothing was started"
        case .environment: "the environment lacks something (allocation, slurm.conf, a program)"
        case .connection: "a server (Ray's dashboard) could not be reached"
        case .authentication: "a server refused the credentials (Ray token)"
        }
    }
}

/// An error a user can act on: what happened, and what to do about it.
public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
    public var kind: FailureKind
    public var message: String
    public var hint: String?

    public init(_ kind: FailureKind, _ message: String, hint: String? = nil) {
        self.kind = kind
        self.message = message
        self.hint = hint
    }

    public static func usage(_ message: String, hint: String? = nil) -> Failure {
        Failure(.usage, message, hint: hint)
    }

    public static func environment(_ message: String, hint: String? = nil) -> Failure {
        Failure(.environment, message, hint: hint)
    }

    public var description: String {
        guard let hint else { return message }
        return "\(message)\nhint: \(hint)"
    }
}
