/// An error a user can act on: what happened, and what to do about it. Its kind is the exit status
/// the command ends with; only CommandRunner prints it and exits.
public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
    public var kind: ExitKind
    public var message: String
    public var hint: String?

    public init(_ kind: ExitKind, _ message: String, hint: String? = nil) {
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
