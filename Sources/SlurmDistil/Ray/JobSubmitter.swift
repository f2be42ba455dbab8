import Foundation

/// A job to submit, before anything was read or sent.
public struct JobRequest: Sendable {
    /// The command words; one word is taken as a whole shell command, several are quoted one by one
    /// (Ray runs the entrypoint with /bin/sh -c).
    public var entrypoint: [String]
    public var workingDir: String?
    public var runtimeEnv: RuntimeEnvironment
    public var submissionID: String?
    public var entrypointNumCPUs: Double?
    public var entrypointNumGPUs: Double?
    public var entrypointResources: [String: Double]?
    public var metadata: [String: String]

    public init(entrypoint: [String], runtimeEnv: RuntimeEnvironment = RuntimeEnvironment()) {
        self.entrypoint = entrypoint
        self.runtimeEnv = runtimeEnv
        metadata = [:]
    }

    public var entrypointCommand: String {
        entrypoint.count == 1 ? entrypoint[0] : ShellQuoting.join(entrypoint)
    }

    public static func newSubmissionID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return "sd_" + String((0..<16).map { _ in alphabet.randomElement()! })
    }
}

/// A request checked and packed locally: what remains is network.
public struct PreparedJob: Sendable {
    public var submission: RayJobSubmission
    public var package: WorkingDirPackage?
    public var packageRoot: String?
    public var runtimeEnv: RuntimeEnvironment
}

/// Submits jobs as Ray's client does: working_dir packed and named by content, uploaded, then the job.
public struct JobSubmitter: Sendable {
    public let client: RayJobsClient

    public init(client: RayJobsClient) {
        self.client = client
    }

    /// Everything that can fail without the cluster fails here, before a byte is sent.
    public static func prepare(_ request: JobRequest, currentDirectory: String) throws(Failure) -> PreparedJob {
        guard !request.entrypoint.isEmpty, !request.entrypoint[0].trimmingCharacters(in: .whitespaces).isEmpty else {
            throw Failure.usage("the entrypoint is empty", hint: "put the command after '--', e.g. -- python -u pipeline.py")
        }
        var runtimeEnv = request.runtimeEnv
        if let workingDir = request.workingDir { runtimeEnv.workingDir = workingDir }
        var package: WorkingDirPackage?
        var packageRoot: String?
        if let workingDir = runtimeEnv.workingDir, !workingDir.contains("://") {
            let root = workingDir.hasPrefix("/") ? workingDir : currentDirectory + "/" + workingDir
            let scanned = try WorkingDirPackage.scan(root: root, excludes: runtimeEnv.excludes)
            package = scanned
            packageRoot = root
            runtimeEnv.workingDir = scanned.uri
        }
        var submission = RayJobSubmission(entrypoint: request.entrypointCommand)
        submission.submissionID = request.submissionID ?? JobRequest.newSubmissionID()
        submission.runtimeEnv = runtimeEnv.value == .object([:]) ? nil : runtimeEnv.value
        submission.metadata = request.metadata.isEmpty ? nil : request.metadata
        submission.entrypointNumCPUs = request.entrypointNumCPUs
        submission.entrypointNumGPUs = request.entrypointNumGPUs
        submission.entrypointResources = request.entrypointResources
        return PreparedJob(submission: submission, package: package, packageRoot: packageRoot, runtimeEnv: runtimeEnv)
    }

    /// Uploads the package if the cluster lacks it (the look-up also pins it against garbage collection),
    /// then submits; returns the submission id.
    public func submit(_ job: PreparedJob, progress: @Sendable (String) -> Void = { _ in }) async throws(Failure) -> String {
        if client.token == nil, try await client.authenticationMode() == "token" {
            throw Failure(
                .authentication, "Ray at \(client.address) uses token authentication and no token was found",
                hint: "give --token-file FILE, or set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH")
        }
        if let package = job.package {
            if try await client.packageExists(package.name) {
                progress("working_dir \(job.packageRoot ?? "") is already on the cluster as \(package.name)")
            } else {
                let zip = try package.zip()
                progress("uploading working_dir \(job.packageRoot ?? "") as \(package.name) (\(WorkingDirPackage.mebibytes(zip.count)), \(package.entries.count) entries)")
                try await client.uploadPackage(package.name, zip: zip)
            }
        }
        return try await client.submit(job.submission)
    }
}
