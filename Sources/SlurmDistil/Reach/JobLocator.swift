import Foundation

/// A bootstrap job found from the login node: Slurm's record, its job folder, what status.json says,
/// and the token to talk to its Ray, so that the user never copies a token around.
public struct JobLocation: Sendable {
    public var slurm: SlurmJobRecord?
    public var folder: String
    /// nil until bootstrap has started.
    public var status: BootstrapStatus?
    public var token: RayToken?

    /// The dashboard, once bootstrap has written it.
    public func client(transport: any HTTPTransport = CurlTransport()) throws(Failure) -> RayJobsClient {
        guard let status else {
            throw Failure.usage(
                "job \(slurm?.id ?? folder) has not started Ray yet: no \(folder)/status.json\(slurm.map { " (Slurm: \($0.state))" } ?? "")",
                hint: "see why it waits: slurm-distil status --job \(slurm?.id ?? "ID")")
        }
        return RayJobsClient(address: status.dashboard, token: token, transport: transport)
    }

    /// The pipeline's submission id, once it was submitted.
    public func submissionID() throws(Failure) -> String {
        guard let id = status?.submissionID else {
            throw Failure.usage(
                "job \(slurm?.id ?? folder) has not submitted its pipeline yet (status: \(status?.status.rawValue ?? "not started"))",
                hint: "wait for it; `slurm-distil status --job ID` shows where it is")
        }
        return id
    }
}

/// Finds a job's folder: `WorkDir/slurm-distil-logs/ID` from Slurm's record, or the folder given.
public struct JobLocator: Sendable {
    let queue: any SlurmQueue
    let files: any FileSystem

    public init(queue: any SlurmQueue, files: any FileSystem) {
        self.queue = queue
        self.files = files
    }

    public func locate(job: String?, folder: String?) throws(Failure) -> JobLocation {
        let record = try job.map { (id) throws(Failure) in try queue.job(id) }
        guard let path = folder ?? record.map({ "\($0.workDirectory)/slurm-distil-logs/\($0.id)" }) else {
            throw Failure.usage("no job given", hint: "give --job ID (the Slurm job id) or --job-folder DIR")
        }
        let statusPath = path + "/status.json"
        var status: BootstrapStatus?
        if files.fileExists(statusPath) {
            let text = try files.read(statusPath)
            do {
                status = try JSONDecoder().decode(BootstrapStatus.self, from: Data(text.utf8))
            } catch {
                throw Failure(.runtime, "\(statusPath) is not a status.json this version of slurm-distil can read", hint: "read it as text, or use the slurm-distil the job ran with")
            }
        } else if folder != nil || record.map({ !$0.isPending }) ?? false, !files.fileExists(path) {
            throw Failure.usage(
                "no job folder \(path) here",
                hint: "it is on the storage the job was submitted from; run this where that folder is mounted, or give --job-folder")
        }
        var token: RayToken?
        if status?.authentication != RayAuthentication.none, files.fileExists(path + "/token") {
            token = RayToken(value: try files.read(path + "/token").trimmingCharacters(in: .whitespacesAndNewlines), source: path + "/token")
        }
        return JobLocation(slurm: record, folder: path, status: status, token: token)
    }
}
