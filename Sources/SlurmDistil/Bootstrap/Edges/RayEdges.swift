import Foundation

/// Readiness as the head's own services answer it.
public struct RayHeadProbe: RayClusterProbe {
    let client: RayJobsClient
    let gcsHost: String
    let gcsPort: Int

    public init(client: RayJobsClient, plan: BootstrapPlan) {
        self.client = client
        gcsHost = plan.headAddress
        gcsPort = plan.ports.gcs
    }

    public func gcsAnswers() async -> Bool {
        // connect() blocks up to its timeout: not on the cooperative pool.
        let (host, port) = (gcsHost, gcsPort)
        return await Thread.detached { PortProbe.accepts(port, on: host) }
    }

    public func dashboardAnswers() async -> Bool {
        (try? await client.jobs()) != nil
    }

    public func authenticationMode() async -> String {
        (try? await client.authenticationMode()) ?? "unknown"
    }

    public func nodes() async -> [RayNode]? {
        try? await client.nodes()
    }
}

/// The pipeline as a job of Ray's Jobs API.
public struct RayPipelineService: PipelineService {
    let client: RayJobsClient

    public init(client: RayJobsClient) {
        self.client = client
    }

    public func submit(_ job: PreparedJob, progress: @escaping @Sendable (String) -> Void) async throws(Failure) -> String {
        try await JobSubmitter(client: client).submit(job, progress: progress)
    }

    public func follow(_ id: String, output: @escaping @Sendable (Data) -> Void, progress: @escaping @Sendable (String) -> Void)
        async throws(Failure) -> RayJobInfo
    {
        try await client.follow(id, output: output, progress: progress)
    }

    public func stop(_ id: String) async throws(Failure) {
        _ = try await client.stop(id)
    }

    public func job(_ id: String) async throws(Failure) -> RayJobInfo {
        try await client.job(id)
    }
}

extension Thread {
    /// Runs a blocking call on a thread of its own and awaits its result.
    static func detached<Value: Sendable>(_ body: @escaping @Sendable () -> Value) async -> Value {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }
}
