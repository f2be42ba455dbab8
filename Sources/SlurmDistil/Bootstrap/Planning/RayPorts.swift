/// Ray's ports for one job: a block below the ephemeral range, derived from the job id so that two
/// jobs sharing a node do not collide, with worker ports inside the block.
public struct RayPorts: Sendable, Equatable, Codable {
    public static let firstBlock = 20_000
    public static let blockSize = 200
    /// Blocks fit below 32,000, under Linux's default ephemeral range (32,768 and up).
    public static let blockCount = 60

    public var base: Int
    public var gcs: Int { base }
    public var dashboard: Int { base + 1 }
    public var clientServer: Int { base + 2 }
    public var nodeManager: Int { base + 3 }
    public var objectManager: Int { base + 4 }
    public var dashboardAgentListen: Int { base + 5 }
    public var dashboardAgentGRPC: Int { base + 6 }
    public var metricsExport: Int { base + 7 }
    public var runtimeEnvAgent: Int { base + 8 }
    /// Ray's own fixed defaults (44217, 44227) would collide between two jobs on one head node.
    public var autoscalerMetrics: Int { base + 9 }
    public var dashboardMetrics: Int { base + 10 }
    public var minWorker: Int { base + 11 }
    public var maxWorker: Int { base + Self.blockSize - 1 }

    public init(base: Int) { self.base = base }

    /// The block for `jobID`, or the `shift`-th one after it.
    public static func block(jobID: String, shift: Int = 0) -> RayPorts {
        let number = Int(jobID.prefix { $0.isNumber }) ?? jobID.unicodeScalars.reduce(0) { ($0 &* 31 &+ Int($1.value)) & 0xFFFF }
        return RayPorts(base: firstBlock + ((number + shift) % blockCount) * blockSize)
    }

    /// The first block, starting at the job's own, in which `taken` finds no port in use; `moved` hears
    /// of each block passed over. nil when every block is taken.
    public static func firstFreeBlock(jobID: String, taken: (RayPorts) -> Int?, moved: (Int, RayPorts) -> Void) -> RayPorts? {
        for shift in 0..<blockCount {
            let ports = block(jobID: jobID, shift: shift)
            guard let port = taken(ports) else { return ports }
            if shift + 1 < blockCount { moved(port, block(jobID: jobID, shift: shift + 1)) }
        }
        return nil
    }

    /// The ports a head listens on, to check before starting.
    public var headPorts: [Int] {
        [gcs, dashboard, clientServer, nodeManager, objectManager, dashboardAgentListen, dashboardAgentGRPC, metricsExport, runtimeEnvAgent,
         autoscalerMetrics, dashboardMetrics]
    }

    /// Ports that only environment variables set.
    public var environment: [String: String] {
        ["AUTOSCALER_METRIC_PORT": String(autoscalerMetrics), "DASHBOARD_METRIC_PORT": String(dashboardMetrics)]
    }

    public var arguments: [String] {
        [
            "--node-manager-port=\(nodeManager)", "--object-manager-port=\(objectManager)",
            "--dashboard-agent-listen-port=\(dashboardAgentListen)", "--dashboard-agent-grpc-port=\(dashboardAgentGRPC)",
            "--metrics-export-port=\(metricsExport)", "--runtime-env-agent-port=\(runtimeEnvAgent)",
            "--min-worker-port=\(minWorker)", "--max-worker-port=\(maxWorker)",
        ]
    }
}

/// Whether a port can be bound here; tests pass a fake that holds some.
public protocol PortAvailability: Sendable {
    func isFree(_ port: Int, on address: String) -> Bool
}

public struct SystemPorts: PortAvailability {
    public init() {}

    public func isFree(_ port: Int, on address: String) -> Bool {
        PortProbe.isFree(port, on: address)
    }
}
