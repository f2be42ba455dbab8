import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An interface as the doctor looks at it: its addresses, whether it is up, its MTU.
public struct InterfaceState: Sendable, Equatable {
    public var name: String
    public var addresses: [String]
    public var isUp: Bool
    public var mtu: Int?

    public init(name: String, addresses: [String], isUp: Bool, mtu: Int?) {
        self.name = name
        self.addresses = addresses
        self.isUp = isUp
        self.mtu = mtu
    }
}

/// What one node can tell about itself; tests pass made-up facts.
public protocol NodeFacts: Sendable {
    var environment: [String: String] { get }
    var directory: any NodeDirectory { get }
    func interfaces() -> [InterfaceState]
    func fileExists(_ path: String) -> Bool
    func read(_ path: String) -> String?
    /// Total and free bytes of the file system holding `path`.
    func space(_ path: String) -> (total: Int, free: Int)?
    func openFilesLimit() -> Int
    func usableCPUs() -> Int
    /// `scontrol --version`, e.g. "slurm 22.05.8".
    func slurmVersion() -> String?
    func rayVersion(_ ray: String) -> RayVersion?
    /// The path `ray` is found at on this node.
    func executable(_ ray: String) -> String?
    /// Ray's cloud-provider probe, timed as Ray's dashboard makes it. Blocks as long as the resolver
    /// does: NodeDoctor runs it on a thread of its own and bounds the wait.
    func cloudProbe() -> CloudProbeTimes
}

/// What Ray's dashboard waits for at every start before it serves anything, usage stats on or off
/// (`UsageStatsHead.run` calls `get_cloud_from_metadata_requests` on its event loop, in
/// ray/_common/usage/usage_lib.py): a GET to 169.254.169.254 for Azure, one to
/// metadata.google.internal, one to 169.254.169.254 for AWS, each with a 1 s timeout.
public struct CloudProbeTimes: Sendable, Equatable {
    public static let address = "169.254.169.254"
    public static let googleName = "metadata.google.internal"
    /// One connect to 169.254.169.254, up to Ray's 1 s; Ray makes two.
    public var linkLocal: Double
    /// Resolving metadata.google.internal: the resolver's own timeouts, which Ray does not bound.
    public var lookup: Double
    /// A connect to what that name resolved to, if anything.
    public var google: Double

    public init(linkLocal: Double, lookup: Double, google: Double) {
        self.linkLocal = linkLocal
        self.lookup = lookup
        self.google = google
    }

    public var total: Double { 2 * linkLocal + lookup + google }
}

public struct SystemNodeFacts: NodeFacts {
    public let environment: [String: String]
    public let directory: any NodeDirectory

    public init(environment: [String: String]) {
        self.environment = environment
        directory = SystemNodeDirectory(environment: environment)
    }

    public func interfaces() -> [InterfaceState] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(first) }
        var flags: [String: UInt32] = [:]
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            flags[String(cString: entry.pointee.ifa_name), default: 0] |= entry.pointee.ifa_flags
            cursor = entry.pointee.ifa_next
        }
        let addresses = Dictionary(grouping: directory.localInterfaces(), by: \.name).mapValues { $0.map(\.address) }
        return flags.keys.sorted().map { name in
            let mtu = read("/sys/class/net/\(name)/mtu").flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            return InterfaceState(name: name, addresses: addresses[name] ?? [], isUp: (flags[name]! & UInt32(IFF_UP)) != 0, mtu: mtu)
        }
    }

    public func fileExists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    public func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    public func space(_ path: String) -> (total: Int, free: Int)? {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return nil }
        return (Int(stats.f_blocks) * Int(stats.f_frsize), Int(stats.f_bavail) * Int(stats.f_frsize))
    }

    public func openFilesLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        return limit.rlim_cur >= UInt64(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    public func usableCPUs() -> Int {
        // Foundation counts the CPUs this process may run on (its affinity), as Ray does.
        ProcessInfo.processInfo.activeProcessorCount
    }

    public func slurmVersion() -> String? {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("slurm-distil-doctor-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        guard let child = try? ChildProcess.spawn("scontrol", ["--version"], environment: environment, stdout: .file(output, append: false), stderr: .null),
            child.wait() == 0
        else { return nil }
        return read(output)?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func rayVersion(_ ray: String) -> RayVersion? { InstalledRay(environment: environment).version(ofRay: ray) }

    public func executable(_ ray: String) -> String? { InstalledRay(environment: environment).executable(ray) }

    public func cloudProbe() -> CloudProbeTimes {
        let timed = { (body: () -> Void) -> Double in
            let started = Date()
            body()
            return Date().timeIntervalSince(started)
        }
        let linkLocal = timed { _ = PortProbe.accepts(80, on: CloudProbeTimes.address, within: 1) }
        var resolved: String?
        let lookup = timed { resolved = directory.resolve(CloudProbeTimes.googleName).first { !$0.contains(":") } }
        let google = resolved.map { address in timed { _ = PortProbe.accepts(80, on: address, within: 1) } } ?? 0
        return CloudProbeTimes(linkLocal: linkLocal, lookup: lookup, google: google)
    }
}
