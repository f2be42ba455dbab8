import Foundation

/// A Ray job as `GET /api/jobs/{id}` describes it.
public struct RayJobInfo: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable {
        case pending = "PENDING", running = "RUNNING", stopped = "STOPPED", succeeded = "SUCCEEDED", failed = "FAILED"

        public var isTerminal: Bool { self == .stopped || self == .succeeded || self == .failed }
    }

    public var submissionID: String?
    public var jobID: String?
    public var status: Status
    public var entrypoint: String?
    public var message: String?
    public var errorType: String?
    public var driverExitCode: Int?
    public var driverNodeID: String?
    public var driverAgentHTTPAddress: String?
    public var startTime: Int64?
    public var endTime: Int64?
    public var metadata: [String: String]?
    /// The Python driver, once the entrypoint has connected to Ray.
    public var driverInfo: DriverInfo?

    public struct DriverInfo: Sendable, Equatable, Codable {
        public var nodeIPAddress: String?
        public var pid: String?

        enum CodingKeys: String, CodingKey {
            case nodeIPAddress = "node_ip_address", pid
        }
    }

    enum CodingKeys: String, CodingKey {
        case submissionID = "submission_id", jobID = "job_id", status, entrypoint, message, errorType = "error_type"
        case driverExitCode = "driver_exit_code", driverNodeID = "driver_node_id"
        case driverAgentHTTPAddress = "driver_agent_http_address", startTime = "start_time", endTime = "end_time"
        case metadata, driverInfo = "driver_info"
    }

    public init(submissionID: String? = nil, status: Status, driverExitCode: Int? = nil, driverNodeID: String? = nil, message: String? = nil) {
        self.submissionID = submissionID
        self.status = status
        self.driverExitCode = driverExitCode
        self.driverNodeID = driverNodeID
        self.message = message
    }

    public var id: String { submissionID ?? jobID ?? "?" }
}

/// What `POST /api/jobs/` takes.
public struct RayJobSubmission: Sendable, Equatable, Encodable {
    public var entrypoint: String
    public var submissionID: String?
    public var runtimeEnv: JSONValue?
    public var metadata: [String: String]?
    public var entrypointNumCPUs: Double?
    public var entrypointNumGPUs: Double?
    public var entrypointResources: [String: Double]?

    enum CodingKeys: String, CodingKey {
        case entrypoint, submissionID = "submission_id", runtimeEnv = "runtime_env", metadata
        case entrypointNumCPUs = "entrypoint_num_cpus", entrypointNumGPUs = "entrypoint_num_gpus"
        case entrypointResources = "entrypoint_resources"
    }

    public init(entrypoint: String) {
        self.entrypoint = entrypoint
    }
}

extension RayJobInfo {
    /// How a followed job ended, as the process exit status (ExitKind): 0, the entrypoint's own code,
    /// or the status that names how it ended without one.
    public var exitCode: Int32 {
        switch status {
        case .succeeded: ExitKind.success.code
        case .failed:
            if let code = driverExitCode, code > 0, code < 256 { Int32(code) } else { ExitKind.jobFailedWithoutExitCode.code }
        case .stopped: ExitKind.jobStopped.code
        case .pending, .running: ExitKind.runtime.code
        }
    }
}

/// Any JSON value, for runtime_env, which Ray passes through without a fixed schema.
public enum JSONValue: Sendable, Equatable, Codable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])
    case null

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .number(let value):
            if value.rounded() == value, abs(value) < 1e15 { try container.encode(Int64(value)) } else { try container.encode(value) }
        case .bool(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public subscript(key: String) -> JSONValue? {
        get { if case .object(let object) = self { object[key] } else { nil } }
        set {
            guard case .object(var object) = self else { return }
            object[key] = newValue
            self = .object(object)
        }
    }

    public var string: String? { if case .string(let value) = self { value } else { nil } }
}
