import Foundation

/// A Ray version, as `X.Y.Z` in its package name.
public struct RayVersion: Sendable, Equatable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int

    /// Token authentication (RAY_AUTH_MODE=token) exists from here on; older Ray ignores the variable
    /// silently and serves its Jobs API, which runs any code, to anyone who reaches it.
    public static let tokenAuthentication = RayVersion(major: 2, minor: 52, patch: 0)

    public init(major: Int, minor: Int, patch: Int) {
        self.major = major
        self.minor = minor
        self.patch = patch
    }

    public init?(_ text: String) {
        let parts = text.split(separator: ".").map { Int($0.prefix { $0.isNumber }) }
        guard parts.count >= 2, let major = parts[0], let minor = parts[1] else { return nil }
        self.init(major: major, minor: minor, patch: parts.count > 2 ? parts[2] ?? 0 : 0)
    }

    public var hasTokenAuthentication: Bool { self >= Self.tokenAuthentication }

    /// From here on a worker may join while the head's raylet is still registering. With 2.44 and 2.52
    /// (measured on the virtual cluster, and by hand with two `ray start`), a worker that joins first
    /// leaves the head's raylet unregistered: `ray start --head` fails after 30 s with "Retrying to
    /// get node ... Deadline Exceeded".
    public static let earlyWorkerJoin = RayVersion(major: 2, minor: 60, patch: 0)
    public var description: String { "\(major).\(minor).\(patch)" }

    public static func < (lhs: RayVersion, rhs: RayVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
    }
}

/// Where the `ray` bootstrap will run is installed, and which version it is.
public protocol RayInstallation: Sendable {
    /// nil when it cannot be told without starting Python (a wrapper script, an unusual layout).
    func version(ofRay ray: String) -> RayVersion?
}

/// Reads the version from the installed package's folder name, `ray-X.Y.Z.dist-info`, found from the
/// `ray` script's interpreter line: a directory listing instead of `import ray` (0.4-1.3 s).
public struct InstalledRay: RayInstallation {
    let environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment
    }

    public func version(ofRay ray: String) -> RayVersion? {
        guard let script = executable(ray), let root = Self.venvRoot(ofScript: script) else { return nil }
        let lib = root + "/lib"
        let pythons = ((try? FileManager.default.contentsOfDirectory(atPath: lib)) ?? []).filter { $0.hasPrefix("python3") }
        var found: [RayVersion] = []
        for python in pythons {
            let packages = "\(lib)/\(python)/site-packages"
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: packages)) ?? [] {
                if let version = Self.version(ofDistInfo: entry) { found.append(version) }
            }
        }
        // Two installations at once (an upgrade that broke off) cannot be told apart this way.
        return found.count == 1 ? found[0] : nil
    }

    /// `ray-2.44.1.dist-info` gives 2.44.1; `ray_cpp-...` and other packages give nil.
    static func version(ofDistInfo name: String) -> RayVersion? {
        guard name.hasPrefix("ray-"), name.hasSuffix(".dist-info") else { return nil }
        return RayVersion(String(name.dropFirst(4).dropLast(10)))
    }

    /// The venv a Python script runs in: its interpreter's folder's parent as written, since bin/python3
    /// is a symlink into the base Python, whose own site-packages would be the wrong one.
    public static func venvRoot(ofScript path: String) -> String? {
        interpreter(ofScript: path).map { URL(fileURLWithPath: $0).deletingLastPathComponent().deletingLastPathComponent().path }
    }

    /// The interpreter of a Python script's first line, when it names one directly.
    static func interpreter(ofScript path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let head = String(decoding: (try? handle.read(upToCount: 512)) ?? Data(), as: UTF8.self)
        guard head.hasPrefix("#!"), let line = head.split(separator: "\n").first else { return nil }
        let interpreter = line.dropFirst(2).trimmingCharacters(in: .whitespaces)
        guard interpreter.hasPrefix("/"), !interpreter.contains(" "), interpreter.contains("python") else { return nil }
        return interpreter
    }

    public func executable(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        for folder in (environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
