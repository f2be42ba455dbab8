import Foundation

/// The token for Ray's token authentication, and where it was found. Its description never shows it.
public struct RayToken: Sendable, Equatable, CustomStringConvertible {
    public var value: String
    public var source: String

    public init(value: String, source: String) {
        self.value = value
        self.source = source
    }

    public var description: String { "token from \(source)" }

    /// Looks in Ray's order: an explicit file, RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token.
    public static func resolve(tokenFile: String?, environment: [String: String], files: any FileSystem) throws(Failure) -> RayToken? {
        func fromFile(_ path: String, source: String) throws(Failure) -> RayToken {
            let text = try files.read(path).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else {
                throw Failure.usage("the token file \(path) (\(source)) is empty", hint: "write the cluster's token into it, or point to another file")
            }
            return RayToken(value: text, source: source)
        }
        if let tokenFile {
            guard files.fileExists(tokenFile) else {
                throw Failure.usage("token file \(tokenFile) does not exist", hint: "check --token-file")
            }
            return try fromFile(tokenFile, source: "--token-file \(tokenFile)")
        }
        if let token = environment["RAY_AUTH_TOKEN"]?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty {
            return RayToken(value: token, source: "RAY_AUTH_TOKEN")
        }
        if let path = environment["RAY_AUTH_TOKEN_PATH"], !path.isEmpty {
            guard files.fileExists(path) else {
                throw Failure.usage("RAY_AUTH_TOKEN_PATH names \(path), which does not exist", hint: "fix or unset RAY_AUTH_TOKEN_PATH")
            }
            return try fromFile(path, source: "RAY_AUTH_TOKEN_PATH=\(path)")
        }
        if let home = environment["HOME"], files.fileExists(home + "/.ray/auth_token") {
            return try fromFile(home + "/.ray/auth_token", source: "~/.ray/auth_token")
        }
        return nil
    }
}

/// Ray's Jobs REST API (the dashboard's /api/jobs/), over any HTTP transport.
public struct RayJobsClient: Sendable {
    public let address: String
    public let token: RayToken?
    let transport: any HTTPTransport

    public init(address: String, token: RayToken?, transport: any HTTPTransport = CurlTransport()) {
        self.address = address
        self.token = token
        self.transport = transport
    }

    /// `--address`, else RAY_API_SERVER_ADDRESS, else RAY_ADDRESS, as Ray's CLI reads them; `host:port` gets http://.
    public static func address(option: String?, environment: [String: String]) throws(Failure) -> String {
        let candidates: [(String?, String)] = [
            (option, "--address"), (environment["RAY_API_SERVER_ADDRESS"], "RAY_API_SERVER_ADDRESS"),
            (environment["RAY_ADDRESS"], "RAY_ADDRESS"),
        ]
        guard let (raw, source) = candidates.first(where: { !($0.0 ?? "").isEmpty }).map({ ($0.0!, $0.1) }) else {
            throw Failure.usage(
                "no Ray dashboard address given",
                hint: "give --address http://HOST:8265, or set RAY_API_SERVER_ADDRESS (inside a slurm-distil job it is set for you)")
        }
        var text = raw.trimmingCharacters(in: .whitespaces)
        if !text.contains("://") { text = "http://" + text }
        while text.hasSuffix("/") { text.removeLast() }
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw Failure.usage(
                "\(source) \(raw.debugDescription) is not a dashboard address",
                hint: "give the dashboard's HTTP address, e.g. http://10.0.0.1:8265 (not a ray:// or GCS address)")
        }
        return text
    }

    // MARK: - Requests

    func send(_ method: HTTPRequest.Method, _ path: String, json: Data? = nil, body: Data? = nil, timeout: Double = 30)
        async throws(Failure) -> HTTPResponse
    {
        var headers: [String: String] = [:]
        if let token { headers["Authorization"] = "Bearer \(token.value)" }
        if json != nil { headers["Content-Type"] = "application/json" }
        if body != nil { headers["Content-Type"] = "application/octet-stream" }
        let response = try await transport.send(HTTPRequest(method, address + path, headers: headers, body: json ?? body, timeout: timeout))
        try checkAuthentication(response)
        return response
    }

    func checkAuthentication(_ response: HTTPResponse) throws(Failure) {
        switch response.status {
        case 401:
            throw Failure(
                .authentication, "Ray at \(address) requires a token and \(token == nil ? "none was found" : "refused the \(token!)")",
                hint: "give --token-file FILE, or set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH (slurm-distil jobs keep theirs in the job's temp folder)")
        case 403:
            throw Failure(
                .authentication, "Ray at \(address) refused the \(token.map(\.description) ?? "request")",
                hint: "the token does not belong to this cluster; check --token-file, RAY_AUTH_TOKEN and RAY_AUTH_TOKEN_PATH")
        default:
            return
        }
    }

    func unexpected(_ response: HTTPResponse, doing what: String) -> Failure {
        let text = response.text
        // Ray answers bad requests with a Python traceback; its last line says what was wrong.
        let lastLine = text.split(separator: "\n").last(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }).map(String.init) ?? ""
        return Failure(.runtime, "Ray at \(address) could not \(what): HTTP \(response.status) \(lastLine.prefix(400))")
    }

    func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse, doing what: String) throws(Failure) -> T {
        do {
            return try JSONDecoder().decode(type, from: response.body)
        } catch {
            throw Failure(.connection, "the answer of \(address) to \(what) is not what Ray's dashboard sends: \(response.text.prefix(200))", hint: "check that the address is Ray's dashboard (port 8265 by default)")
        }
    }

    func noSuchJob(_ id: String) -> Failure {
        Failure.usage("no job \(id) on \(address)", hint: "list the cluster's jobs with `slurm-distil list`")
    }

    static func pathComponent(_ id: String) throws(Failure) -> String {
        guard !id.isEmpty, id.count <= 256, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) }) else {
            throw Failure.usage("invalid job id \(id.debugDescription)", hint: "job ids are letters, digits, '-', '_', '.' and ':' (see `slurm-distil list`)")
        }
        return id
    }

    // MARK: - Jobs

    public func authenticationMode() async throws(Failure) -> String {
        let response = try await transport.send(HTTPRequest(.get, address + "/api/authentication_mode", timeout: 10))
        guard response.status == 200 else { return "unknown" }
        struct Mode: Decodable { var authentication_mode: String }
        return (try? JSONDecoder().decode(Mode.self, from: response.body).authentication_mode) ?? "unknown"
    }

    public func submit(_ submission: RayJobSubmission) async throws(Failure) -> String {
        let body = try! JSONEncoder().encode(submission)
        let response = try await send(.post, "/api/jobs/", json: body)
        guard response.status == 200 else {
            if response.text.contains("already exists") {
                throw Failure.usage(
                    "a job with submission id \(submission.submissionID ?? "?") already exists on \(address)",
                    hint: "choose another --submission-id, or leave it out to get a fresh one")
            }
            throw unexpected(response, doing: "submit the job")
        }
        struct Submitted: Decodable { var submission_id: String }
        return try decode(Submitted.self, response, doing: "the submission").submission_id
    }

    public func job(_ id: String) async throws(Failure) -> RayJobInfo {
        let response = try await send(.get, "/api/jobs/\(try Self.pathComponent(id))")
        if response.status == 404 {
            throw noSuchJob(id)
        }
        guard response.status == 200 else { throw unexpected(response, doing: "read job \(id)") }
        return try decode(RayJobInfo.self, response, doing: "job \(id)")
    }

    public func jobs() async throws(Failure) -> [RayJobInfo] {
        let response = try await send(.get, "/api/jobs/")
        guard response.status == 200 else { throw unexpected(response, doing: "list jobs") }
        return try decode([RayJobInfo].self, response, doing: "the job list")
    }

    public func stop(_ id: String) async throws(Failure) -> Bool {
        let response = try await send(.post, "/api/jobs/\(try Self.pathComponent(id))/stop")
        if response.status == 404 { throw noSuchJob(id) }
        guard response.status == 200 else { throw unexpected(response, doing: "stop job \(id)") }
        struct Stopped: Decodable { var stopped: Bool }
        return try decode(Stopped.self, response, doing: "stop").stopped
    }

    public func delete(_ id: String) async throws(Failure) -> Bool {
        let response = try await send(.delete, "/api/jobs/\(try Self.pathComponent(id))")
        if response.status == 404 { throw noSuchJob(id) }
        guard response.status == 200 else {
            if response.text.contains("not in a terminal state") || response.text.contains("still running") {
                throw Failure.usage("job \(id) is still running and cannot be deleted", hint: "stop it first: slurm-distil stop \(id)")
            }
            throw unexpected(response, doing: "delete job \(id)")
        }
        struct Deleted: Decodable { var deleted: Bool }
        return (try? JSONDecoder().decode(Deleted.self, from: response.body).deleted) ?? true
    }

    /// The job's whole output so far. Ray answers 500 forever once the output holds invalid UTF-8,
    /// so that case falls back to the byte stream.
    public func logs(_ id: String) async throws(Failure) -> Data {
        let response = try await send(.get, "/api/jobs/\(try Self.pathComponent(id))/logs")
        if response.status == 404 { throw noSuchJob(id) }
        if response.status == 200 {
            struct Logs: Decodable { var logs: String }
            return Data(try decode(Logs.self, response, doing: "logs").logs.utf8)
        }
        let info = try await job(id)
        guard let node = info.driverNodeID else { throw unexpected(response, doing: "read the logs of job \(id)") }
        let collected = LockedData()
        _ = try await streamLogs(id, node: node, lines: -1) { chunk in
            collected.append(chunk)
            return .proceed
        } until: { collected.idleFor(seconds: collected.count > 0 ? 1.0 : 5.0) }
        return collected.data
    }

    // MARK: - Packages

    public func packageExists(_ name: String) async throws(Failure) -> Bool {
        let response = try await send(.get, "/api/packages/gcs/\(name)")
        switch response.status {
        case 200: return true
        case 404: return false
        default: throw unexpected(response, doing: "look up package \(name)")
        }
    }

    public func uploadPackage(_ name: String, zip: Data) async throws(Failure) {
        let response = try await send(.put, "/api/packages/gcs/\(name)", body: zip, timeout: 600)
        guard response.status == 200 else {
            if response.status == 413 {
                throw Failure.usage("Ray refused the working_dir package \(name): \(zip.count) bytes is over its upload limit", hint: "exclude large files with .rayignore or runtime_env excludes")
            }
            throw unexpected(response, doing: "upload package \(name)")
        }
    }
}
