import Foundation

/// Quoting for POSIX shells: the result is one word that the shell reads back as exactly `value`,
/// whatever quotes, `$()`, backticks, newlines or spaces it contains.
public enum ShellQuoting {
    /// Characters that mean nothing to a shell, so a word made only of them needs no quotes
    /// (the same set as Python's shlex.quote).
    private static func isPlain(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "@"), UInt8(ascii: "%"), UInt8(ascii: "+"), UInt8(ascii: "="), UInt8(ascii: ":"),
            UInt8(ascii: ","), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default:
            false
        }
    }

    public static func quote(_ value: String) -> String {
        if !value.isEmpty, value.utf8.allSatisfy(isPlain) {
            return value
        }
        return "'" + value.replacingOccurrences(of: "'", with: #"'"'"'"#) + "'"
    }

    public static func join(_ words: [String]) -> String {
        words.map(quote).joined(separator: " ")
    }
}
