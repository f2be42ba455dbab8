import ArgumentParser
import Foundation
import SlurmDistil

/// The one place where errors become messages and exit codes (README "Exit codes").
public enum CommandRunner {
    /// The raw arguments, so that a command can tell `… --` (an empty command, refused) from no `--` at all.
    @TaskLocal static var rawArguments: [String] = []

    public static func main(arguments: [String]) async -> Never {
        let status = await run(arguments: arguments)
        exit(status)
    }

    /// Runs one command line and returns the exit status; what it prints goes to stdout and stderr.
    public static func run(arguments: [String]) async -> Int32 {
        do {
            var command = try SlurmDistilCommand.parseAsRoot(arguments)
            try await $rawArguments.withValue(arguments) {
                if var asyncCommand = command as? AsyncParsableCommand {
                    try await asyncCommand.run()
                } else {
                    try command.run()
                }
            }
            return 0
        } catch let failure as Failure {
            report(failure)
            return failure.kind.code
        } catch let exit as ExitCode {
            return exit.rawValue
        } catch {
            let code = SlurmDistilCommand.exitCode(for: error)
            let message = SlurmDistilCommand.fullMessage(for: error)
            if code == .success {
                print(message)
                return 0
            }
            StandardError.write("slurm-distil: error: " + message.replacingOccurrences(of: "Error: ", with: "") + "\n")
            return ExitKind.usage.code
        }
    }

    static func report(_ failure: Failure) {
        var text = "slurm-distil: error: \(failure.message)\n"
        if let hint = failure.hint {
            text += "hint: \(hint)\n"
        }
        StandardError.write(text)
    }

    /// True when the command line has a `--`, even with nothing after it.
    static var terminatorGiven: Bool { rawArguments.contains("--") }
}

enum StandardError {
    static func write(_ text: String) {
        OutputFile.standardError.write(text)
    }
}
