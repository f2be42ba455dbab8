import Foundation
import Testing

@testable import SlurmDistil

/// A transport that answers from a table and records what was asked.
final class FakeTransport: HTTPTransport, @unchecked Sendable {
    let lock = NSLock()
    var routes: [String: HTTPResponse]
    var requests: [HTTPRequest] = []

    init(_ routes: [String: HTTPResponse]) { self.routes = routes }

    func send(_ request: HTTPRequest) async throws(Failure) -> HTTPResponse {
        lock.withLock { requests.append(request) }
        let key = "\(request.method.rawValue) \(request.url.replacingOccurrences(of: "http://ray:8265", with: ""))"
        guard let response = lock.withLock({ routes[key] }) else {
            throw Failure(.connection, "could not connect to \(request.url): connection refused", hint: "test")
        }
        return response
    }

    func stream(_ request: HTTPRequest, onChunk: @escaping @Sendable (Data) -> StreamDecision, until: @escaping @Sendable () -> Bool) async throws(Failure) -> Int {
        let response = try await send(request)
        // As the transport's contract says: an error page is never delivered as the body.
        guard (200..<300).contains(response.status) else { return response.status }
        _ = onChunk(response.body)
        while !until() { try? await Task.sleep(nanoseconds: 10_000_000) }
        return response.status
    }
}

func json(_ status: Int, _ text: String) -> HTTPResponse { HTTPResponse(status: status, body: Data(text.utf8)) }

@Suite struct RayClientTests {
    let token = RayToken(value: "secret-token-value", source: "RAY_AUTH_TOKEN")

    @Test func addressComesFromFlagThenEnvironment() throws {
        #expect(try RayJobsClient.address(option: "10.0.0.1:8265", environment: [:]) == "http://10.0.0.1:8265")
        #expect(try RayJobsClient.address(option: nil, environment: ["RAY_ADDRESS": "http://h:1/", "RAY_API_SERVER_ADDRESS": "http://api:2"]) == "http://api:2")
        #expect(try RayJobsClient.address(option: nil, environment: ["RAY_ADDRESS": "h:3"]) == "http://h:3")
        expectFailure(.usage, containing: "no Ray dashboard address") { _ = try RayJobsClient.address(option: nil, environment: [:]) }
        expectFailure(.usage, containing: "is not a dashboard address") { _ = try RayJobsClient.address(option: "ray://h:10001", environment: [:]) }
    }

    @Test func tokenSourcesInRaysOrder() throws {
        let files = MemoryFileSystem(files: ["/t1": "file-token\n", "/home/u/.ray/auth_token": "home-token", "/empty": "  \n"])
        #expect(try RayToken.resolve(tokenFile: "/t1", environment: ["RAY_AUTH_TOKEN": "env"], files: files)?.value == "file-token")
        #expect(try RayToken.resolve(tokenFile: nil, environment: ["RAY_AUTH_TOKEN": "env", "RAY_AUTH_TOKEN_PATH": "/t1"], files: files)?.source == "RAY_AUTH_TOKEN")
        #expect(try RayToken.resolve(tokenFile: nil, environment: ["RAY_AUTH_TOKEN_PATH": "/t1", "HOME": "/home/u"], files: files)?.value == "file-token")
        #expect(try RayToken.resolve(tokenFile: nil, environment: ["HOME": "/home/u"], files: files)?.source == "~/.ray/auth_token")
        #expect(try RayToken.resolve(tokenFile: nil, environment: ["HOME": "/nobody"], files: files) == nil)
        expectFailure(.usage, containing: "is empty") { _ = try RayToken.resolve(tokenFile: "/empty", environment: [:], files: files) }
        expectFailure(.usage, containing: "does not exist") { _ = try RayToken.resolve(tokenFile: "/none", environment: [:], files: files) }
        #expect(!"\(RayToken(value: "abc123", source: "x"))".contains("abc123"))
    }

    @Test func authenticationFailuresNameTheTokenSourceNotTheToken() async throws {
        let transport = FakeTransport(["GET /api/jobs/j1": json(403, "Forbidden"), "GET /api/jobs/j2": json(401, "Unauthorized")])
        let client = RayJobsClient(address: "http://ray:8265", token: token, transport: transport)
        do {
            _ = try await client.job("j1")
            Issue.record("accepted 403")
        } catch {
            #expect(error.kind == .authentication)
            #expect(error.message.contains("token from RAY_AUTH_TOKEN"))
            #expect(!error.message.contains(token.value) && !(error.hint ?? "").contains(token.value))
        }
        let anonymous = RayJobsClient(address: "http://ray:8265", token: nil, transport: transport)
        await #expect(throws: Failure.self) { try await anonymous.job("j2") }
        #expect(transport.requests[0].headers["Authorization"] == "Bearer secret-token-value")
        #expect(transport.requests[1].headers["Authorization"] == nil)
    }

    @Test func unknownJobsDuplicatesAndBadIds() async throws {
        let transport = FakeTransport([
            "GET /api/jobs/nope": json(404, "not found"),
            "POST /api/jobs/": json(500, "Traceback...\nValueError: Job with submission_id dup already exists."),
        ])
        let client = RayJobsClient(address: "http://ray:8265", token: nil, transport: transport)
        await expectAsyncFailure(.usage, containing: "no job nope") { _ = try await client.job("nope") }
        var submission = RayJobSubmission(entrypoint: "true")
        submission.submissionID = "dup"
        await expectAsyncFailure(.usage, containing: "already exists") { _ = try await client.submit(submission) }
        await expectAsyncFailure(.usage, containing: "invalid job id") { _ = try await client.job("../etc") }
        #expect(transport.requests.count == 2, "an invalid id is refused before any request")
    }

    @Test func followReturnsTheFinalRecordAndStreamsOutput() async throws {
        let transport = FakeTransport([
            "GET /api/jobs/j": json(200, #"{"submission_id":"j","status":"FAILED","driver_exit_code":3,"driver_node_id":"abc"}"#),
            "GET /api/v0/logs/stream?node_id=abc&submission_id=j&lines=-1&interval=0.5": json(200, "out\u{1}\n"),
        ])
        let client = RayJobsClient(address: "http://ray:8265", token: nil, transport: transport)
        let seen = LockedData()
        let final = try await client.follow("j", pollInterval: 0.01, output: { seen.append($0) }, progress: { _ in })
        #expect(final.status == .failed)
        #expect(final.exitCode == 3)
        #expect(String(decoding: seen.data, as: UTF8.self) == "out\u{1}\n")
    }

    /// Ray 2.52's dashboard answers the stream with 500 when token auth is on (its own call to the
    /// node's agent is refused): the job's whole log, polled, carries the output instead.
    @Test func aStreamThatFailsFallsBackToTheWholeLogWithoutPrintingTheError() async throws {
        let transport = FakeTransport([
            "GET /api/jobs/j": json(200, #"{"submission_id":"j","status":"RUNNING","driver_node_id":"abc"}"#),
            "GET /api/v0/logs/stream?node_id=abc&submission_id=j&lines=-1&interval=0.5": json(500, "<AioRpcError UNAUTHENTICATED>"),
            "GET /api/jobs/j/logs": json(200, #"{"logs":"first\n"}"#),
        ])
        let client = RayJobsClient(address: "http://ray:8265", token: nil, transport: transport)
        let seen = LockedData()
        let following = Task { try await client.follow("j", pollInterval: 0.01, output: { seen.append($0) }, progress: { _ in }) }
        while seen.count == 0 { try await Task.sleep(nanoseconds: 10_000_000) }
        transport.lock.withLock {
            transport.routes["GET /api/jobs/j/logs"] = json(200, #"{"logs":"first\nsecond\n"}"#)
            transport.routes["GET /api/jobs/j"] = json(200, #"{"submission_id":"j","status":"SUCCEEDED","driver_node_id":"abc"}"#)
        }
        let final = try await following.value
        #expect(final.status == .succeeded)
        #expect(String(decoding: seen.data, as: UTF8.self) == "first\nsecond\n", "each byte once, no error page")
    }

    @Test func lostClusterIsReportedNotWaitedOnForever() async throws {
        let transport = FakeTransport(["GET /api/jobs/j": json(200, #"{"submission_id":"j","status":"PENDING"}"#)])
        let client = RayJobsClient(address: "http://ray:8265", token: nil, transport: transport)
        let follow = Task { try await client.follow("j", pollInterval: 0.01, lostAfter: 0.1, output: { _ in }, progress: { _ in }) }
        try await Task.sleep(nanoseconds: 50_000_000)
        transport.lock.withLock { transport.routes["GET /api/jobs/j"] = json(200, #"{"submission_id":"j","status":"RUNNING","driver_node_id":"n"}"#) }
        try await Task.sleep(nanoseconds: 50_000_000)
        transport.lock.withLock { transport.routes = [:] }
        do {
            _ = try await follow.value
            Issue.record("followed a vanished cluster to an end")
        } catch let error as Failure {
            #expect(error.kind == .connection)
            #expect(error.message.contains("lost job j"))
        }
    }

    @Test func exitStatusForEveryOutcome() {
        #expect(RayJobInfo(status: .succeeded).exitCode == 0)
        #expect(RayJobInfo(status: .failed, driverExitCode: 42).exitCode == 42)
        #expect(RayJobInfo(status: .failed).exitCode == ExitKind.jobFailedWithoutExitCode.code)
        #expect(RayJobInfo(status: .stopped).exitCode == ExitKind.jobStopped.code)
    }

    @Test func entrypointQuoting() {
        #expect(JobRequest(entrypoint: ["python a.py && echo done"]).entrypointCommand == "python a.py && echo done")
        #expect(JobRequest(entrypoint: ["python", "-c", "print('hi there')"]).entrypointCommand == #"python -c 'print('"'"'hi there'"'"')'"#)
    }
}

func expectAsyncFailure(
    _ kind: ExitKind, containing fragment: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected a \(kind) failure containing '\(fragment)'", sourceLocation: sourceLocation)
    } catch let failure as Failure {
        #expect(failure.kind == kind, sourceLocation: sourceLocation)
        #expect(failure.message.contains(fragment), "message was: \(failure.message)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct RuntimeEnvironmentTests {
    @Test func parsesExpandsAndRemembersSecrets() throws {
        let text = """
            working_dir: .
            excludes: ["data/", "*.ckpt"]
            pip: [distilabel==1.5.3]
            env_vars:
              HF_TOKEN: "${HF_TOKEN}"
              HF_HUB_OFFLINE: "1"
              LITERAL: "$${NOT_EXPANDED}"
              WANDB_API_KEY: written-into-the-file
            """
        let env = try RuntimeEnvironment.parse(yaml: text, path: "runtime_env.yaml", environment: ["HF_TOKEN": "hf_supersecret"])
        #expect(env.value["env_vars"]?["HF_TOKEN"] == .string("hf_supersecret"))
        #expect(env.value["env_vars"]?["LITERAL"] == .string("${NOT_EXPANDED}"))
        #expect(env.excludes == ["data/", "*.ckpt"])
        #expect(env.workingDir == ".")
        #expect(env.secrets == ["hf_supersecret", "written-into-the-file"])
        #expect(SecretRedactor(env.secrets).redact("token is hf_supersecret! key written-into-the-file") == "token is ***! key ***")
    }

    @Test(arguments: [
        ("env_vars:\n  N: 1\n", "env_vars.N must be a string, not a number"),
        ("env_vars:\n  B: true\n", "env_vars.B must be a string"),
        ("env_vars: [a]\n", "env_vars must be a mapping"),
        ("pipp: [x]\n", "unknown runtime_env key 'pipp'"),
        ("- a\n", "must be a mapping"),
        ("env_vars: {A: \"${UNSET_VAR_X}\"}\n", "${UNSET_VAR_X} is not set"),
        ("env_vars: {A: [\n", "is not valid YAML"),
        ("excludes: data/\n", "excludes must be a list"),
    ])
    func refusesWhatRayWouldFailLater(text: String, fragment: String) {
        expectFailure(.usage, containing: fragment) { _ = try RuntimeEnvironment.parse(yaml: text, path: "r.yaml", environment: [:]) }
    }

    @Test func jsonFormToo() throws {
        let env = try RuntimeEnvironment.parse(json: #"{"env_vars": {"A": "${X}"}}"#, environment: ["X": "1"])
        #expect(env.value["env_vars"]?["A"] == .string("1"))
        expectFailure(.usage, containing: "not valid JSON") { _ = try RuntimeEnvironment.parse(json: "{", environment: [:]) }
    }
}

@Suite struct PackagingTests {
    @Test func sha1KnownAnswers() {
        var empty = SHA1()
        #expect(empty.finalize().map { String(format: "%02x", $0) }.joined() == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        var abc = SHA1()
        abc.update(Array("abc".utf8))
        #expect(abc.finalize().map { String(format: "%02x", $0) }.joined() == "a9993e364706816aba3e25717850c26c9cd0d89d")
        var long = SHA1()
        for _ in 0..<1000 { long.update(Array(String(repeating: "a", count: 1000).utf8)) }
        #expect(long.finalize().map { String(format: "%02x", $0) }.joined() == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test(arguments: [
        ("data/", "data", false), ("data/", "data/x", true), ("data", "data", true), ("data", "a/data/x", true),
        ("*.log", "x.log", true), ("*.log", "a/b/x.log", true), ("/top", "top", true), ("/top", "a/top", false),
        ("a/**/z", "a/b/c/z", true), ("a/**/z", "a/z", true), ("doc/*.txt", "doc/a.txt", true), ("doc/*.txt", "doc/x/a.txt", false),
        ("*", ".", true), ("[ab].py", "a.py", true), ("[!ab].py", "a.py", false), ("?.py", "ab.py", false), (".git", ".git", true),
    ])
    func gitwildmatchLikeRaysPathspec(pattern: String, path: String, matches: Bool) {
        #expect(PathSpec(lines: [pattern]).matches(path) == matches)
    }

    @Test func negationAndComments() {
        let spec = PathSpec(lines: ["# comment", "*.log", "!keep.log", "", "  "])
        #expect(spec.matches("x.log"))
        #expect(!spec.matches("keep.log"))
        #expect(!spec.matches("# comment"))
    }
}

/// A stream the server ends early, twice, while the job runs on: what was delivered must not repeat.
final class RestartingStreamTransport: HTTPTransport, @unchecked Sendable {
    let lock = NSLock()
    var streams = 0
    let contents = ["line 1\n", "line 1\nline 2\n", "line 1\nline 2\nline 3\n"]

    func send(_ request: HTTPRequest) async throws(Failure) -> HTTPResponse {
        let status = lock.withLock { streams >= contents.count ? "SUCCEEDED" : "RUNNING" }
        return json(200, #"{"submission_id":"j","status":"\#(status)","driver_node_id":"n"}"#)
    }

    func stream(_ request: HTTPRequest, onChunk: @escaping @Sendable (Data) -> StreamDecision, until: @escaping @Sendable () -> Bool) async throws(Failure) -> Int {
        let index = lock.withLock { () -> Int in
            streams += 1
            return streams - 1
        }
        let text = contents[min(index, contents.count - 1)]
        // Delivered in two pieces, so that skipping must work across chunks.
        let middle = text.index(text.startIndex, offsetBy: text.count / 2)
        _ = onChunk(Data(text[..<middle].utf8))
        _ = onChunk(Data(text[middle...].utf8))
        if index < contents.count - 1 { return 200 }
        while !until() { try? await Task.sleep(nanoseconds: 10_000_000) }
        return 200
    }
}

@Suite struct StreamRestartTests {
    @Test func aStreamEndedByTheServerIsResumedWithoutRepeats() async throws {
        let client = RayJobsClient(address: "http://ray:8265", token: nil, transport: RestartingStreamTransport())
        let seen = LockedData()
        let final = try await client.follow("j", pollInterval: 0.05, output: { seen.append($0) }, progress: { _ in })
        #expect(final.status == .succeeded)
        #expect(String(decoding: seen.data, as: UTF8.self) == "line 1\nline 2\nline 3\n")
    }
}
