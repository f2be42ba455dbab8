/// The table `list` prints: one line per job, oldest first.
///
/// Ids are printed whole, because users paste them into `status` and `logs` (a 24-column id column once cut
/// `raysubmit_fM2GZnE6qXtLazxy` to a prefix that matched no job). An entrypoint is one shell command that
/// may hold newlines, which would break the table, so they are shown escaped.
public enum JobTable {
    /// `width`: the terminal's width when stdout is one; lines are cut to it. nil: nothing is cut (a pipe
    /// or a file gets the whole entrypoint).
    public static func render(_ jobs: [RayJobInfo], width: Int?) -> String {
        let sorted = ordered(jobs)
        let idWidth = max("SUBMISSION ID".count, sorted.map(\.id.count).max() ?? 0)
        let statusWidth = "SUCCEEDED".count
        var lines = [row("SUBMISSION ID", "STATUS", "ENTRYPOINT", idWidth, statusWidth)]
        for job in sorted {
            lines.append(row(job.id, job.status.rawValue, oneLine(job.entrypoint ?? ""), idWidth, statusWidth))
        }
        // A narrow terminal still gets every id whole and the start of each entrypoint.
        let keep = width.map { max($0, idWidth + statusWidth + 4 + 10) }
        return lines.map { line in keep.map { cut(line, to: $0) } ?? line }.joined(separator: "\n") + "\n"
    }

    /// Oldest first, as the table and `list --json` show them.
    public static func ordered(_ jobs: [RayJobInfo]) -> [RayJobInfo] {
        jobs.sorted { ($0.startTime ?? 0) < ($1.startTime ?? 0) }
    }

    private static func row(_ id: String, _ status: String, _ entrypoint: String, _ idWidth: Int, _ statusWidth: Int) -> String {
        let text = pad(id, idWidth) + "  " + pad(status, statusWidth) + "  " + entrypoint
        return entrypoint.isEmpty ? String(text.reversed().drop { $0 == " " }.reversed()) : text
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    /// Control characters as escapes (`\n`, `\t`, `\u{1b}`), and a backslash doubled so that the escapes
    /// cannot be confused with what the command itself holds.
    public static func oneLine(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value):
                result += "\\u{\(String(scalar.value, radix: 16))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func cut(_ line: String, to width: Int) -> String {
        guard line.count > width else { return line }
        return String(line.prefix(max(width - 1, 0))) + "…"
    }
}
