import Foundation

/// The local virtual Slurm cluster of scripts/vcluster, as the integration tests use it.
public enum VirtualCluster {
    public static let script = PackagePaths.root.appending(path: "scripts/vcluster").path

    /// True when scripts/test brought a cluster up for these tests.
    public static var isUp: Bool { ProcessInfo.processInfo.environment["SLURM_DISTIL_VCLUSTER"] == "1" }

    /// Runs `command` on `host` (ctl, n1, ...) in `directory`.
    public static func exec(_ host: String, _ command: [String], in directory: URL? = nil) throws -> ProcessResult {
        try runProcess(script, ["exec", host] + command, directory: directory)
    }

    public static func run(_ arguments: [String]) throws -> ProcessResult {
        try runProcess(script, arguments)
    }

    /// Submits `script` with sbatch from the controller and returns the job id.
    public static func submit(_ script: String, arguments: [String] = [], in directory: URL) throws -> Int {
        let submitted = try exec("ctl", ["sbatch", "--parsable", script] + arguments, in: directory)
        guard let id = Int(submitted.stdout.split(separator: ";").first?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
        else {
            throw TestFailure("sbatch did not submit: \(submitted.stdout) \(submitted.stderr)")
        }
        return id
    }

    public static let endStates: Set<String> = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE"]

    /// Polls the job until it ends (sbatch --wait polls too slowly for tests: up to 30 s late).
    public static func waitForEnd(_ id: Int, timeout: Double = 300) throws -> SlurmJob {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let current = try job(id)
            if endStates.contains(current.state) { return current }
            Thread.sleep(forTimeInterval: 0.5)
        }
        throw TestFailure("job \(id) did not end within \(Int(timeout)) s")
    }

    /// Submits `script` with sbatch from the controller, waits for the job and returns its record.
    public static func submitAndWait(_ script: String, arguments: [String] = [], in directory: URL) throws -> SlurmJob {
        try waitForEnd(try submit(script, arguments: arguments, in: directory))
    }

    /// Processes of Ray (or of slurm-distil's node agent) still running on the compute nodes.
    public static func rayProcessesOnNodes() throws -> [String] {
        var found: [String] = []
        let namespaces = try runProcess("/usr/bin/env", ["ip", "netns", "list"]).stdout
            .split(separator: "\n").map { String($0.split(separator: " ")[0]) }.filter { $0.hasPrefix("sdv-n") }
        for namespace in namespaces {
            for pid in try runProcess("/usr/bin/env", ["ip", "netns", "pids", namespace]).stdout.split(separator: "\n") {
                guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
                let commandLine = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\0", with: " ")
                if commandLine.contains("ray") || commandLine.contains("_node") || commandLine.contains("gcs_server") {
                    found.append("\(namespace) \(pid): \(commandLine.prefix(120))")
                }
            }
        }
        return found
    }

    public static func job(_ id: Int) throws -> SlurmJob {
        let shown = try exec("ctl", ["scontrol", "show", "job", String(id)])
        func field(_ name: String) -> String {
            shown.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" })
                .first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) } ?? ""
        }
        return SlurmJob(id: id, state: field("JobState"), exitCode: field("ExitCode"), nodeList: field("NodeList"))
    }

    /// What this machine holds of a cluster: namespaces, daemons, the route. Empty when nothing is left.
    public static func leftovers() throws -> [String] {
        var found: [String] = []
        let namespaces = try runProcess("/usr/bin/env", ["ip", "netns", "list"]).stdout
        found += namespaces.split(separator: "\n").filter { $0.hasPrefix("sdv-") }.map { "namespace \($0)" }
        let routes = try runProcess("/usr/bin/env", ["ip", "route", "show", "10.213.77.0/24"]).stdout
        if !routes.isEmpty { found.append("route \(routes)") }
        let state = "/run/slurm-distil-vcluster"
        if FileManager.default.fileExists(atPath: state) { found.append("state folder \(state)") }
        // The 24.11 daemons mount into the cached root filesystem, only ever inside their own namespaces.
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        found += mounts.split(separator: "\n").filter { $0.contains(state) || $0.contains("/var/cache/slurm-distil/") }
            .map { "mount \($0)" }
        for entry in try FileManager.default.contentsOfDirectory(atPath: "/proc") where Int(entry) != nil {
            guard let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            let commandLine = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\0", with: " ")
            if commandLine.contains(state) { found.append("process \(entry): \(commandLine)") }
        }
        return found
    }
}

public struct SlurmJob: Sendable {
    public var id: Int
    public var state: String
    public var exitCode: String
    public var nodeList: String
}

public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
