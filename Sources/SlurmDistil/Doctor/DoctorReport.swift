/// One check on one node: what was found, and what to do when it fails.
public struct DoctorFinding: Codable, Sendable, Equatable {
    public enum Verdict: String, Codable, Sendable, Comparable {
        case pass = "PASS", warn = "WARN", fail = "FAIL"

        public static func < (lhs: Verdict, rhs: Verdict) -> Bool {
            let order: [Verdict] = [.pass, .warn, .fail]
            return order.firstIndex(of: lhs)! < order.firstIndex(of: rhs)!
        }
    }

    public var node: String
    public var check: String
    public var verdict: Verdict
    public var detail: String
    public var hint: String?

    public init(_ node: String, _ check: String, _ verdict: Verdict, _ detail: String, hint: String? = nil) {
        self.node = node
        self.check = check
        self.verdict = verdict
        self.detail = detail
        self.hint = hint
    }
}

/// What `doctor` found on every node, as a table or JSON; it fails when any check fails.
public struct DoctorReport: Codable, Sendable {
    public var nodes: [String]
    public var findings: [DoctorFinding]
    public var seconds: Double

    public init(nodes: [String], findings: [DoctorFinding], seconds: Double) {
        self.nodes = nodes
        self.findings = findings
        self.seconds = seconds
    }

    public var failed: Bool { findings.contains { $0.verdict == .fail } }

    /// Node order, then the order the checks were made in (the nodes answer in any order).
    public var ordered: [DoctorFinding] {
        nodes.flatMap { node in findings.filter { $0.node == node } } + findings.filter { !nodes.contains($0.node) }
    }

    public var failures: [DoctorFinding] { ordered.filter { $0.verdict == .fail } }

    public var table: String {
        let nodeWidth = max(4, ordered.map(\.node.count).max() ?? 0)
        let checkWidth = max(5, ordered.map(\.check.count).max() ?? 0)
        func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
        var lines = ["\(pad("NODE", nodeWidth))  \(pad("CHECK", checkWidth))  RESULT  DETAIL"]
        for finding in ordered {
            lines.append("\(pad(finding.node, nodeWidth))  \(pad(finding.check, checkWidth))  \(pad(finding.verdict.rawValue, 6))  \(finding.detail)")
            if finding.verdict != .pass, let hint = finding.hint {
                lines.append("\(pad("", nodeWidth))  \(pad("", checkWidth))          hint: \(hint)")
            }
        }
        let count = { (verdict: DoctorFinding.Verdict) in findings.filter { $0.verdict == verdict }.count }
        lines.append(
            "doctor: \(nodes.count) node(s), \(findings.count) checks: \(count(.pass)) PASS, \(count(.warn)) WARN, \(count(.fail)) FAIL in \((seconds * 10).rounded() / 10) s")
        return lines.joined(separator: "\n")
    }
}
