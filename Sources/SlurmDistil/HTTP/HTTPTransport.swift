import Foundation

public struct HTTPRequest: Sendable, Equatable {
    public enum Method: String, Sendable { case get = "GET", post = "POST", put = "PUT", delete = "DELETE" }

    public var method: Method
    public var url: String
    public var headers: [String: String]
    public var body: Data?
    /// Whole-transfer limit in seconds; nil for streams that last as long as a job.
    public var timeout: Double?
    public var connectTimeout: Double

    public init(
        _ method: Method, _ url: String, headers: [String: String] = [:], body: Data? = nil, timeout: Double? = 30,
        connectTimeout: Double = 10
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
    }
}

public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var body: Data

    public init(status: Int, body: Data) {
        self.status = status
        self.body = body
    }

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// What the next chunk of a streamed response asks for.
public enum StreamDecision: Sendable { case proceed, stop }

/// HTTP as the Jobs client needs it. The real one is libcurl; tests pass fakes.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) async throws(Failure) -> HTTPResponse
    /// Delivers the body of a 2xx answer in chunks as they arrive until the server ends it, `onChunk`
    /// says stop, or `until` (asked about once a second, also while nothing arrives) says so; returns the
    /// status code. The body of any other answer (an error page) is never delivered.
    func stream(
        _ request: HTTPRequest, onChunk: @escaping @Sendable (Data) -> StreamDecision, until: @escaping @Sendable () -> Bool
    ) async throws(Failure) -> Int
}

extension HTTPTransport {
    public func stream(_ request: HTTPRequest, onChunk: @escaping @Sendable (Data) -> StreamDecision) async throws(Failure) -> Int {
        try await stream(request, onChunk: onChunk, until: { false })
    }
}
