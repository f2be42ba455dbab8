import Foundation
import SlurmDistil

/// A real Ray head from the project's pinned venv (.venv-ray), on its own loopback address, for the
/// Jobs client's tests. Ray rewrites 127.0.0.1 to the machine's main address, so 127.0.0.x others are used.
public final class RayHead: @unchecked Sendable {
    public static let python = PackagePaths.root.appending(path: ".venv-ray/bin/python").path
    public static let ray = PackagePaths.root.appending(path: ".venv-ray/bin/ray").path

    public let host: String
    public let dashboardPort: Int
    public let token: String?
    public let directory: URL
    public var address: String { "http://\(host):\(dashboardPort)" }
    public var tokenFile: String { directory.appending(path: "token").path }

    /// Starts `ray start --head`; with `auth` a fresh token in a 0600 file and RAY_AUTH_MODE=token.
    public init(host: String, basePort: Int, auth: Bool) throws {
        self.host = host
        dashboardPort = basePort + 1
        // Short: Unix socket paths under the temp dir must stay below 107 bytes.
        directory = URL(fileURLWithPath: "/tmp/sdr-\(basePort)")
        // A head left by an earlier run that died holds these ports.
        _ = try? runProcess(PackagePaths.fixtures.appending(path: "stop_processes_under.sh").path, ["/tmp/sdr-\(basePort)/r", "\(host):\(basePort) "])
        try? FileManager.default.removeItem(atPath: "/tmp/sdr-\(basePort)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment
        if auth {
            var bytes = [UInt8](repeating: 0, count: 32)
            for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
            let token = bytes.map { String(format: "%02x", $0) }.joined()
            try token.write(toFile: directory.appending(path: "token").path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: directory.appending(path: "token").path)
            environment["RAY_AUTH_MODE"] = "token"
            environment["RAY_AUTH_TOKEN_PATH"] = directory.appending(path: "token").path
            self.token = token
        } else {
            environment["RAY_AUTH_MODE"] = "disabled"
            self.token = nil
        }
        environment["PATH"] = PackagePaths.root.appending(path: ".venv-ray/bin").path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        let ports = [
            "--port=\(basePort)", "--dashboard-port=\(basePort + 1)", "--ray-client-server-port=\(basePort + 2)",
            "--node-manager-port=\(basePort + 3)", "--object-manager-port=\(basePort + 4)",
            "--dashboard-agent-listen-port=\(basePort + 5)", "--dashboard-agent-grpc-port=\(basePort + 6)",
            "--metrics-export-port=\(basePort + 7)", "--runtime-env-agent-port=\(basePort + 8)",
            "--min-worker-port=\(basePort + 10)", "--max-worker-port=\(basePort + 60)",
        ]
        let result = try runProcess(
            Self.ray,
            ["start", "--head", "--node-ip-address=\(host)", "--dashboard-host=\(host)", "--temp-dir=\(directory.path)/r",
             "--num-cpus=2", "--object-store-memory=100000000", "--disable-usage-stats", "--include-dashboard=true"] + ports,
            environment: environment)
        guard result.status == 0 else { throw TestFailure("ray start failed: \(result.stderr.suffix(2000))") }
        // Started is not ready: wait until the Jobs API answers.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let probe = try runProcess("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "\(address)/api/jobs/"] + (token.map { ["-H", "Authorization: Bearer \($0)"] } ?? []))
            if probe.stdout == "200" { return }
            Thread.sleep(forTimeInterval: 0.3)
        }
        throw TestFailure("Ray's dashboard at \(address) did not answer within 60 s")
    }

    /// Stops exactly this head: the processes whose command line names its temp dir, and their children.
    public func stop() {
        _ = try? runProcess(PackagePaths.fixtures.appending(path: "stop_processes_under.sh").path, [directory.path + "/r", "\(host):\(dashboardPort - 1) "])
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }
}
