import Foundation

/// gitignore patterns ("gitwildmatch") translated to regular expressions exactly as the pathspec copy
/// inside Ray does, so that our exclusions, and so the package name, match Ray's own client.
public struct PathSpec: Sendable {
    struct Pattern: @unchecked Sendable {
        let regex: NSRegularExpression
        let include: Bool
    }

    let patterns: [Pattern]

    public init(lines: [String]) {
        patterns = lines.compactMap(Self.compile)
    }

    /// True when the last pattern that matches `path` (relative, `/`-separated) includes it.
    public func matches(_ path: String) -> Bool {
        var file = path
        if file.hasPrefix("./") { file.removeFirst(2) }
        let range = NSRange(file.startIndex..., in: file)
        var matched = false
        for pattern in patterns where pattern.regex.firstMatch(in: file, range: range) != nil {
            matched = pattern.include
        }
        return matched
    }

    static func compile(_ line: String) -> Pattern? {
        var pattern = line.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !pattern.isEmpty, !pattern.hasPrefix("#"), pattern != "/" else { return nil }
        var include = true
        if pattern.hasPrefix("!") {
            include = false
            pattern.removeFirst()
        }
        if pattern.hasPrefix("\\") { pattern.removeFirst() }
        var segments = pattern.components(separatedBy: "/")
        if segments[0].isEmpty {
            segments.removeFirst()
        } else if segments.count == 1 || (segments.count == 2 && segments[1].isEmpty) {
            if segments[0] != "**" { segments.insert("**", at: 0) }
        }
        if segments.count > 1, segments.last!.isEmpty {
            segments[segments.count - 1] = "**"
        }
        var output = "^"
        var needSlash = false
        let end = segments.count - 1
        for (index, segment) in segments.enumerated() {
            if segment == "**" {
                if index == 0, index == end {
                    output += ".+"
                } else if index == 0 {
                    output += "(?:.+/)?"
                    needSlash = false
                } else if index == end {
                    output += "/.*"
                } else {
                    output += "(?:/.+)?"
                    needSlash = true
                }
            } else if segment == "*" {
                if needSlash { output += "/" }
                output += "[^/]+"
                needSlash = true
            } else {
                if needSlash { output += "/" }
                output += translateGlob(segment)
                if index == end, include { output += "(?:/.*)?" }
                needSlash = true
            }
        }
        output += "$"
        guard let regex = try? NSRegularExpression(pattern: output) else { return nil }
        return Pattern(regex: regex, include: include)
    }

    static func translateGlob(_ glob: String) -> String {
        let characters = Array(glob)
        var regex = ""
        var escape = false
        var index = 0
        while index < characters.count {
            let character = characters[index]
            index += 1
            if escape {
                escape = false
                regex += NSRegularExpression.escapedPattern(for: String(character))
            } else if character == "\\" {
                escape = true
            } else if character == "*" {
                regex += "[^/]*"
            } else if character == "?" {
                regex += "[^/]"
            } else if character == "[" {
                var scan = index
                if scan < characters.count, characters[scan] == "!" { scan += 1 }
                if scan < characters.count, characters[scan] == "]" { scan += 1 }
                while scan < characters.count, characters[scan] != "]" { scan += 1 }
                if scan < characters.count {
                    scan += 1
                    var expression = "["
                    if characters[index] == "!" {
                        expression += "^"
                        index += 1
                    } else if characters[index] == "^" {
                        expression += "\\^"
                        index += 1
                    }
                    expression += String(characters[index..<scan]).replacingOccurrences(of: "\\", with: "\\\\")
                    regex += expression
                    index = scan
                } else {
                    regex += "\\["
                }
            } else {
                regex += NSRegularExpression.escapedPattern(for: String(character))
            }
        }
        return regex
    }
}
