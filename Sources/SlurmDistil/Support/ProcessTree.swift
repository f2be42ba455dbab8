import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Processes by parentage, read from /proc: how the tool stops exactly what it started, and never
/// by name (`ray stop` kills every Ray on the machine, other users' and other jobs' too).
public enum ProcessTree {
    /// Every descendant of `roots`, children before grandchildren.
    public static func descendants(of roots: [pid_t]) -> [pid_t] {
        var children: [pid_t: [pid_t]] = [:]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // Fields after the command name: state, ppid, ...
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = pid_t(fields[1]) {
                children[parent, default: []].append(pid)
            }
        }
        var result: [pid_t] = []
        var queue = roots
        while !queue.isEmpty {
            let next = queue.removeFirst()
            for child in children[next] ?? [] where !result.contains(child) && !roots.contains(child) {
                result.append(child)
                queue.append(child)
            }
        }
        return result
    }

    public static func isAlive(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// TERM to `root` and everything below it, then KILL after `grace` seconds to whatever still runs,
    /// descendants found later included (also those orphaned when their parent exited first).
    /// Returns the pids that had to be killed.
    @discardableResult
    public static func terminate(_ root: pid_t, grace: Double) -> [pid_t] {
        terminate([root], grace: grace)
    }

    /// The same for several trees at once: one grace period for all, not one each.
    @discardableResult
    public static func terminate(_ roots: [pid_t], grace: Double) -> [pid_t] {
        var known = roots + descendants(of: roots)
        for pid in known { kill(pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(grace)
        while Date() < deadline, known.contains(where: isAlive) {
            usleep(100_000)
            known += descendants(of: known.filter(isAlive)).filter { !known.contains($0) }
        }
        let survivors = known.filter(isAlive)
        for pid in survivors { kill(pid, SIGKILL) }
        return survivors
    }
}
