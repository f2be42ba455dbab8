import CCurl
import Foundation

/// HTTP over libcurl. Each transfer runs on a thread of its own, because curl_easy_perform blocks
/// and must never hold one of the few threads of Swift's cooperative pool.
public struct CurlTransport: HTTPTransport {
    public static let userAgent = "slurm-distil/\(SlurmDistilVersion.current)"

    private static let globalInit: Void = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }()

    public init() {
        _ = Self.globalInit
    }

    public func send(_ request: HTTPRequest) async throws(Failure) -> HTTPResponse {
        let transfer = Transfer(request: request, onChunk: nil, until: nil)
        let status = try await transfer.run()
        return HTTPResponse(status: status, body: transfer.collected)
    }

    public func stream(
        _ request: HTTPRequest, onChunk: @escaping @Sendable (Data) -> StreamDecision, until: @escaping @Sendable () -> Bool
    ) async throws(Failure) -> Int {
        try await Transfer(request: request, onChunk: onChunk, until: until).run()
    }
}

/// One transfer's state, shared with curl's C callbacks through an `Unmanaged` pointer that stays
/// retained until curl_easy_perform has returned.
private final class Transfer: @unchecked Sendable {
    let request: HTTPRequest
    let onChunk: (@Sendable (Data) -> StreamDecision)?
    let until: (@Sendable () -> Bool)?
    var collected = Data()
    var uploadOffset = 0
    var stoppedByReceiver = false
    var handle: UnsafeMutableRawPointer?
    /// Whether the body goes to `onChunk`: only a 2xx answer's does, an error page is kept in `collected`.
    var deliversBody: Bool?

    init(request: HTTPRequest, onChunk: (@Sendable (Data) -> StreamDecision)?, until: (@Sendable () -> Bool)?) {
        self.request = request
        self.onChunk = onChunk
        self.until = until
    }

    func run() async throws(Failure) -> Int {
        let outcome: Result<Int, Failure> = await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: self.perform()) }
            thread.name = "slurm-distil-curl"
            thread.start()
        }
        return try outcome.get()
    }

    private func perform() -> Result<Int, Failure> {
        guard let handle = curl_easy_init() else {
            return .failure(Failure(.runtime, "libcurl could not start a transfer"))
        }
        self.handle = handle
        defer { curl_easy_cleanup(handle) }
        var headers: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(headers) }
        // "Expect:" turns off curl's 100-continue wait on uploads.
        for line in request.headers.sorted(by: { $0.key < $1.key }).map({ "\($0.key): \($0.value)" }) + ["Expect:"] {
            headers = curl_slist_append(headers, line)
        }

        let context = Unmanaged.passRetained(self)
        defer { context.release() }
        let pointer = context.toOpaque()

        sd_curl_set_string(handle, CURLOPT_URL, request.url)
        sd_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
        // The dashboard is always on the cluster's own network, and a proxy must never see the token.
        sd_curl_set_string(handle, CURLOPT_PROXY, "")
        sd_curl_set_string(handle, CURLOPT_USERAGENT, CurlTransport.userAgent)
        sd_curl_set_headers(handle, headers)
        sd_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout * 1000))
        sd_curl_set_long(handle, CURLOPT_TIMEOUT_MS, Int((request.timeout ?? 0) * 1000))
        sd_curl_set_pointer(handle, CURLOPT_WRITEDATA, pointer)
        sd_curl_set_write_callback(handle) { buffer, size, count, context in
            let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
            let length = size * count
            let chunk = Data(bytes: buffer!, count: length)
            if transfer.onChunk != nil, transfer.deliversBody == nil {
                var status = 0
                sd_curl_get_long(transfer.handle, CURLINFO_RESPONSE_CODE, &status)
                transfer.deliversBody = (200..<300).contains(status)
            }
            if let onChunk = transfer.onChunk, transfer.deliversBody == true {
                if onChunk(chunk) == .stop {
                    transfer.stoppedByReceiver = true
                    return 0
                }
            } else {
                transfer.collected.append(chunk)
            }
            return length
        }

        if until != nil {
            sd_curl_set_long(handle, CURLOPT_NOPROGRESS, 0)
            sd_curl_set_pointer(handle, CURLOPT_XFERINFODATA, pointer)
            sd_curl_set_progress_callback(handle) { context, _, _, _, _ in
                let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
                guard let until = transfer.until, until() else { return 0 }
                transfer.stoppedByReceiver = true
                return 1
            }
        }

        switch request.method {
        case .get:
            sd_curl_set_long(handle, CURLOPT_HTTPGET, 1)
        case .post:
            sd_curl_set_long(handle, CURLOPT_POST, 1)
            sd_curl_set_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body?.count ?? 0))
        case .put:
            sd_curl_set_long(handle, CURLOPT_UPLOAD, 1)
            sd_curl_set_offset(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body?.count ?? 0))
        case .delete:
            sd_curl_set_string(handle, CURLOPT_CUSTOMREQUEST, "DELETE")
        }
        if request.method == .post || request.method == .put {
            sd_curl_set_pointer(handle, CURLOPT_READDATA, pointer)
            sd_curl_set_read_callback(handle) { buffer, size, count, context in
                let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
                guard let body = transfer.request.body, transfer.uploadOffset < body.count else { return 0 }
                let length = min(size * count, body.count - transfer.uploadOffset)
                body.withUnsafeBytes { bytes in
                    buffer!.update(
                        from: bytes.baseAddress!.advanced(by: transfer.uploadOffset).assumingMemoryBound(to: CChar.self),
                        count: length)
                }
                transfer.uploadOffset += length
                return length
            }
        }

        let code = curl_easy_perform(handle)
        let stoppedHere = stoppedByReceiver && (code == CURLE_WRITE_ERROR || code == CURLE_ABORTED_BY_CALLBACK)
        if code != CURLE_OK, !stoppedHere {
            return .failure(Self.failure(for: code, url: request.url, timeout: request.timeout))
        }
        var status = 0
        sd_curl_get_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .success(status)
    }

    static func failure(for code: CURLcode, url: String, timeout: Double?) -> Failure {
        let reason = String(cString: curl_easy_strerror(code))
        switch code {
        case CURLE_COULDNT_CONNECT:
            return Failure(
                .connection, "could not connect to \(url): \(reason)",
                hint: "check that Ray is running there and that the address and port are right (--address, RAY_ADDRESS)")
        case CURLE_COULDNT_RESOLVE_HOST:
            return Failure(.connection, "could not resolve the host of \(url)", hint: "check the host name in the address")
        case CURLE_OPERATION_TIMEDOUT:
            return Failure(
                .connection, "no answer from \(url) within \(timeout.map { "\(Int($0)) s" } ?? "the connect timeout")",
                hint: "check that the address is reachable from this node and the server is not overloaded")
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            return Failure(.usage, "\(url) is not a usable http:// address: \(reason)", hint: "give an address like http://10.0.0.1:8265")
        default:
            return Failure(.connection, "request to \(url) failed: \(reason)")
        }
    }
}
