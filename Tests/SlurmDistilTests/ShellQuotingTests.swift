import Foundation
import Testing

@testable import SlurmDistil
import TestSupport

/// Values that would break or hijack a script if they reached it unquoted.
let hostileValues = [
    "plain", "two words", "it's", "\"double\"", "$(touch /tmp/pwned)", "`id`", "${HOME}", "a;b", "a|b", "a&&b",
    "line1\nline2", "tab\there", "back\\slash", "*", "~", "#comment", "'", "''", "-n", "--", "!", "ünïcødé", "a\rb",
    "$'\\x41'", "\\", " lead", "trail ",
]

@Suite struct ShellQuotingTests {
    @Test func plainWordsStayReadable() {
        #expect(ShellQuoting.quote("python") == "python")
        #expect(ShellQuoting.quote("/opt/venv/bin/activate") == "/opt/venv/bin/activate")
        #expect(ShellQuoting.quote("KEY=value,x:y@z%+") == "KEY=value,x:y@z%+")
        #expect(ShellQuoting.quote("") == "''")
        #expect(ShellQuoting.quote("a b") == "'a b'")
    }

    /// bash itself reads every quoted value back: the words it sees are exactly the values.
    @Test func bashReadsEveryValueBack() throws {
        let script = "printf '%s\\0' " + ShellQuoting.join(hostileValues)
        let result = try runProcess("/bin/bash", ["-c", script])
        #expect(result.status == 0)
        let words = result.stdout.split(separator: "\0", omittingEmptySubsequences: false).dropLast().map(String.init)
        #expect(words == hostileValues)
    }
}
