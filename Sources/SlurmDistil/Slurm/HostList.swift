import Foundation

/// Slurm host lists (`n[01-04],gpu7`): checked here, expanded and compacted by libslurm itself.
///
/// libslurm's parser is lenient (`n[1-` becomes `n]`) and prints its own errors to stderr, so every list
/// is checked against Slurm's grammar first; libslurm then only sees lists it expands correctly.
public enum HostList {
    /// Lists longer than this are refused before expansion; no allocation is that large.
    public static let maximumHosts = 100_000
    /// libslurm refuses a longer range with its own line on stderr (`_parse_single_range: Too many hosts in
    /// range`, MAX_RANGE in hostlist.c); 65536 is accepted and 65537 is not (libslurm 22.05).
    public static let maximumRange = 65_536

    /// The hosts `list` names, in order. Needs libslurm (loaded at run time); its absence is a
    /// `Failure.environment` that says where it was looked for.
    public static func expand(_ list: String) throws(Failure) -> [String] {
        try validate(list)
        guard let hosts = try LibSlurm.system().expand(list) else {
            throw invalid(list, "libslurm could not parse it")
        }
        return hosts
    }

    /// The compact form Slurm prints (`n[1-3,7]`), for messages; a plain comma list without libslurm.
    public static func compact(_ hosts: [String]) -> String {
        guard !hosts.isEmpty else { return "" }
        return (try? LibSlurm.system())?.compact(hosts) ?? hosts.joined(separator: ",")
    }

    /// Checks `list` against Slurm's grammar: items separated by commas or spaces; an item is a name,
    /// optionally with bracket groups of numbers and ranges (`a[1-2]b[3,5]`), and nothing after its last `]`.
    public static func validate(_ list: String) throws(Failure) {
        let bytes = Array(list.utf8)
        guard bytes.contains(where: { !isSeparator($0) }) else {
            throw Failure.usage("the node list is empty", hint: "give Slurm host names such as n[01-04],gpu7")
        }
        var count = 0
        var index = 0
        while index < bytes.count {
            if isSeparator(bytes[index]) {
                index += 1
                continue
            }
            count += try item(bytes, from: &index, list: list)
            guard count <= maximumHosts else {
                throw invalid(list, "it names more than \(maximumHosts) hosts")
            }
        }
    }

    /// Parses one item starting at `index`, leaving `index` after it; returns how many hosts it names.
    private static func item(_ bytes: [UInt8], from index: inout Int, list: String) throws(Failure) -> Int {
        var hosts = 1
        var sawName = false
        var afterGroup = false
        while index < bytes.count, !isSeparator(bytes[index]) {
            let byte = bytes[index]
            if byte == UInt8(ascii: "[") {
                hosts *= try group(bytes, from: &index, list: list)
                guard hosts <= maximumHosts else { throw invalid(list, "it names more than \(maximumHosts) hosts") }
                afterGroup = true
                sawName = true
            } else if byte == UInt8(ascii: "]") {
                throw invalid(list, "a ']' at position \(index + 1) has no matching '['")
            } else if isNameByte(byte) {
                // Text after a bracket group must lead to another group: Slurm rejects `n[1-2]x`.
                var end = index
                while end < bytes.count, isNameByte(bytes[end]) { end += 1 }
                if afterGroup, end >= bytes.count || bytes[end] != UInt8(ascii: "[") {
                    throw invalid(list, "text follows the last ']' of an item (Slurm allows nothing after it)")
                }
                index = end
                sawName = true
            } else {
                let character = String(decoding: [byte], as: UTF8.self)
                throw invalid(list, "it contains \(MessageQuoting.quote(character)), which is not allowed in a host name")
            }
        }
        guard sawName else { throw invalid(list, "an item is empty") }
        return hosts
    }

    /// Parses `[1,3-5]` at `index`; returns how many numbers it names.
    private static func group(_ bytes: [UInt8], from index: inout Int, list: String) throws(Failure) -> Int {
        let start = index
        index += 1
        var count = 0
        while true {
            let low = try number(bytes, from: &index, list: list, groupStart: start)
            var high = low
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
                index += 1
                high = try number(bytes, from: &index, list: list, groupStart: start)
                guard low <= high else {
                    throw invalid(list, "the range \(low)-\(high) runs backwards")
                }
                guard high - low < maximumRange else {
                    throw invalid(list, "the range \(low)-\(high) names \(high - low + 1) hosts; Slurm expands at most \(maximumRange) in one range")
                }
            }
            count += high - low + 1
            guard count <= maximumHosts else { throw invalid(list, "it names more than \(maximumHosts) hosts") }
            guard index < bytes.count else {
                throw invalid(list, "the '[' at position \(start + 1) is never closed")
            }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return count
            } else {
                throw invalid(list, "the bracket at position \(start + 1) holds something other than numbers and ranges")
            }
        }
    }

    private static func number(_ bytes: [UInt8], from index: inout Int, list: String, groupStart: Int) throws(Failure) -> Int {
        let start = index
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            index += 1
        }
        guard index > start else {
            if index >= bytes.count {
                throw invalid(list, "the '[' at position \(groupStart + 1) is never closed")
            }
            throw invalid(list, "the bracket at position \(groupStart + 1) holds something other than numbers and ranges")
        }
        guard index - start <= 9 else { throw invalid(list, "a number in brackets is too long") }
        return Int(String(decoding: bytes[start..<index], as: UTF8.self))!
    }

    private static func isSeparator(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ",") || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n")
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
            true
        default:
            false
        }
    }

    private static func invalid(_ list: String, _ reason: String) -> Failure {
        Failure.usage(
            "invalid node list \(MessageQuoting.quote(list)): \(reason)",
            hint: "use Slurm's form, e.g. n[01-04],gpu7 (scontrol show hostnames LIST shows how Slurm reads it)")
    }
}
