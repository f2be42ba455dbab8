import Foundation
import Testing

@testable import SlurmDistil
import TestSupport

/// A real local HTTP server (Python's http.server) for the real libcurl transport.
final class EchoServer: @unchecked Sendable {
    let process = Process()
    let port: Int
    let stdinPipe = Pipe()

    init() throws {
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", PackagePaths.fixtures.appending(path: "echo_server.py").path]
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        // Kept open for the life of the test process: the server exits when it sees end of file.
        process.standardInput = stdinPipe
        try process.run()
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) {
            line.append(byte)
        }
        port = Int(String(decoding: line, as: UTF8.self)) ?? 0
    }

    var base: String { "http://127.0.0.1:\(port)" }

    deinit {
        process.terminate()
        process.waitUntilExit()
    }
}

struct Echo: Decodable {
    var method: String
    var path: String
    var headers: [String: String]
    var body_length: Int
    var body_sha256: String
}

@Suite(.serialized) struct CurlTransportTests {
    /// One server for the suite: a server per test would multiply the long-running children.
    static let shared = Result { try EchoServer() }
    var server: EchoServer { get throws { try Self.shared.get() } }

    @Test func getSendsOurHeadersAndNoBrowserOnes() async throws {
        let response = try await CurlTransport().send(HTTPRequest(.get, try server.base + "/api/x", headers: ["Authorization": "Bearer abc"]))
        #expect(response.status == 200)
        let echo = try JSONDecoder().decode(Echo.self, from: response.body)
        #expect(echo.method == "GET")
        #expect(echo.path == "/api/x")
        #expect(echo.headers["authorization"] == "Bearer abc")
        #expect(echo.headers["user-agent"] == CurlTransport.userAgent)
        #expect(echo.headers["origin"] == nil && echo.headers["referer"] == nil)
    }

    @Test func largeUploadArrivesWhole() async throws {
        var body = Data(count: 8 * 1024 * 1024 + 3)
        for index in stride(from: 0, to: body.count, by: 4093) { body[index] = UInt8(index % 251) }
        for method in [HTTPRequest.Method.put, .post] {
            let response = try await CurlTransport().send(HTTPRequest(method, try server.base + "/upload", body: body))
            let echo = try JSONDecoder().decode(Echo.self, from: response.body)
            #expect(echo.method == method.rawValue)
            #expect(echo.body_length == body.count)
            #expect(echo.headers["expect"] == nil)
        }
    }

    @Test func statusCodesComeBack() async throws {
        #expect(try await CurlTransport().send(HTTPRequest(.delete, try server.base + "/status/404")).status == 404)
    }

    @Test func streamDeliversChunksAndCanStopEarly() async throws {
        let collected = Collected()
        let status = try await CurlTransport().stream(HTTPRequest(.get, try server.base + "/stream/20", timeout: nil)) { chunk in
            collected.append(chunk)
            return .proceed
        }
        #expect(status == 200)
        #expect(collected.text == (0..<20).map { "chunk \($0)\n" }.joined())

        let early = Collected()
        _ = try await CurlTransport().stream(HTTPRequest(.get, try server.base + "/stream/50", timeout: nil)) { chunk in
            early.append(chunk)
            return early.text.contains("chunk 3") ? .stop : .proceed
        }
        #expect(early.text.contains("chunk 3"))
        #expect(!early.text.contains("chunk 49"))
    }

    @Test func refusedConnectionNamesTheAddress() async throws {
        do {
            _ = try await CurlTransport().send(HTTPRequest(.get, "http://127.0.0.1:1/api/version"))
            Issue.record("connected to port 1")
        } catch {
            #expect(error.kind == .connection)
            #expect(error.message.contains("127.0.0.1:1"))
            #expect(error.hint?.contains("RAY_ADDRESS") == true)
        }
    }
}

final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ chunk: Data) { lock.withLock { data.append(chunk) } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
