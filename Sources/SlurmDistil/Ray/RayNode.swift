/// One node as Ray's state API lists it (`GET /api/v0/nodes`). Dead nodes stay listed.
public struct RayNode: Sendable, Equatable, Decodable {
    public var nodeIP: String
    public var state: String
    public var isHeadNode: Bool
    /// Zero resources are left out by Ray.
    public var resourcesTotal: [String: Double]

    public init(nodeIP: String, state: String = "ALIVE", isHeadNode: Bool = false, resourcesTotal: [String: Double] = [:]) {
        self.nodeIP = nodeIP
        self.state = state
        self.isHeadNode = isHeadNode
        self.resourcesTotal = resourcesTotal
    }

    public var isAlive: Bool { state == "ALIVE" }

    enum CodingKeys: String, CodingKey {
        case nodeIP = "node_ip", state, isHeadNode = "is_head_node", resourcesTotal = "resources_total"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        nodeIP = try container.decode(String.self, forKey: .nodeIP)
        state = try container.decode(String.self, forKey: .state)
        isHeadNode = try container.decodeIfPresent(Bool.self, forKey: .isHeadNode) ?? false
        resourcesTotal = try container.decodeIfPresent([String: Double].self, forKey: .resourcesTotal) ?? [:]
    }
}

extension RayJobsClient {
    /// Every node Ray knows, alive or dead.
    public func nodes() async throws(Failure) -> [RayNode] {
        struct Answer: Decodable {
            struct Data: Decodable {
                struct Page: Decodable { var result: [RayNode] }
                var result: Page
            }
            var data: Data
        }
        let response = try await send(.get, "/api/v0/nodes?limit=1000&detail=false")
        guard response.status == 200 else { throw unexpected(response, doing: "list Ray's nodes") }
        return try decode(Answer.self, response, doing: "the node list").data.result.result
    }
}
