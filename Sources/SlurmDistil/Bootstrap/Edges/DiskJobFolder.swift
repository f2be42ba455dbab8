import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The job folder on disk (normally on shared storage, under the submit folder).
public struct DiskJobFolder: JobFolder {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public func create() throws(Failure) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw Failure(.runtime, "cannot create the job folder \(path)", hint: "check that the submit folder is writable")
        }
    }

    public func writeToken(_ token: String) throws(Failure) {
        let file = path + "/token"
        // Created 0600 from the start: there is no moment in which others could read it.
        try? FileManager.default.removeItem(atPath: file)
        guard FileManager.default.createFile(atPath: file, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw Failure(.runtime, "cannot write the token file \(file)", hint: "check that the job folder is writable")
        }
    }

    public func write(_ status: BootstrapStatus) -> Bool {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(status) else { return false }
        return (try? data.write(to: URL(fileURLWithPath: path + "/status.json"), options: .atomic)) != nil
    }

    public func openPipelineLog() -> (any OutputSink)? {
        // The batch output and pipeline.log outlive the job and are often group-readable; secrets are masked before.
        OutputFile.create(atPath: path + "/pipeline.log", permissions: 0o644)
    }

    public func tail(ofNode node: String, lines: Int) -> String {
        let text = read("ray-\(node).log")
        guard !text.isEmpty else { return "(no output)" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    public func writeProbe(_ text: String, into folder: String, jobID: String) -> String? {
        let probe = "\(folder)/.slurm-distil-shared-\(jobID)"
        return (try? text.write(toFile: probe, atomically: true, encoding: .utf8)) != nil ? probe : nil
    }

    public func removeProbe(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    public func read(_ name: String) -> String {
        (try? String(contentsOfFile: path + "/" + name, encoding: .utf8)) ?? ""
    }

    public func readStatus() -> BootstrapStatus? {
        guard let data = FileManager.default.contents(atPath: path + "/status.json") else { return nil }
        return try? JSONDecoder().decode(BootstrapStatus.self, from: data)
    }

    public func archiveAttempt(_ number: Int) -> [String] {
        let files = FileManager.default
        let names = ((try? files.contentsOfDirectory(atPath: path)) ?? []).filter(Self.isAttemptLog).sorted()
        guard !names.isEmpty else { return [] }
        let folder = "\(path)/attempt-\(number)"
        try? files.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return names.filter { (try? files.moveItem(atPath: "\(path)/\($0)", toPath: "\(folder)/\($0)")) != nil }
    }

    /// The files one attempt writes; status.json, the token and the pipeline's cache stay for the next.
    static func isAttemptLog(_ name: String) -> Bool {
        name == "pipeline.log" || name == "stall-stack.txt" || name == "shared-check.txt" || (name.hasPrefix("ray-") && name.hasSuffix(".log"))
    }
}

/// bootstrap's progress to stderr, the pipeline's output to stdout.
public struct StandardConsole: BootstrapConsole {
    public init() {}

    public func say(_ text: String) {
        OutputFile.standardError.write("slurm-distil: \(text)\n")
    }

    public func pipelineOutput(_ data: Data) {
        OutputFile.standardOutput.write(data)
    }
}

extension BootstrapEdges {
    /// The real edges: srun, the head's dashboard over libcurl with the job's token, the job folder on disk.
    public static func system(plan: BootstrapPlan, token: String?, resumeState: any ResumeState = NoResumeState()) -> BootstrapEdges {
        let client = RayJobsClient(address: plan.dashboardURL, token: token.map { RayToken(value: $0, source: plan.tokenPath) })
        return BootstrapEdges(
            launcher: SrunLauncher(), probe: RayHeadProbe(client: client, plan: plan), pipeline: RayPipelineService(client: client),
            folder: DiskJobFolder(path: plan.jobFolder), clock: SystemClock(), console: StandardConsole(),
            slurm: ScontrolQueue(environment: ProcessInfo.processInfo.environment), resumeState: resumeState)
    }
}
