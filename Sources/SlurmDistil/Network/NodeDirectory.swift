import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What Slurm's controller knows of a node (`scontrol show node`: NodeAddr, NodeHostName).
public struct SlurmNodeRecord: Sendable, Equatable {
    public var name: String
    public var address: String
    public var hostname: String

    public init(name: String, address: String, hostname: String) {
        self.name = name
        self.address = address
        self.hostname = hostname
    }
}

public struct NetworkInterface: Sendable, Equatable {
    public var name: String
    public var address: String
    public var isIPv6: Bool

    public init(name: String, address: String, isIPv6: Bool) {
        self.name = name
        self.address = address
        self.isIPv6 = isIPv6
    }
}

/// Where node addresses can be looked up. The real one asks libslurm, the resolver and the kernel.
public protocol NodeDirectory: Sendable {
    /// Node records from the controller; nil when no slurm.conf is reachable from here.
    func slurmNodeRecords() throws(Failure) -> [String: SlurmNodeRecord]?
    /// Addresses DNS (or /etc/hosts) gives for `host`, in the resolver's order.
    func resolve(_ host: String) -> [String]
    /// This machine's interfaces with their addresses.
    func localInterfaces() -> [NetworkInterface]
}

public struct SystemNodeDirectory: NodeDirectory {
    let environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment
    }

    /// The slurm.conf libslurm would read, if one exists. slurm_init() ends the process when it finds
    /// none, so it is only ever called after this says yes.
    public func reachableSlurmConfig() -> String? {
        var candidates: [String] = []
        if let explicit = environment["SLURM_CONF"], !explicit.isEmpty {
            candidates.append(explicit)
        } else {
            // The default path, then the copy slurmd caches in configless mode.
            candidates += ["/etc/slurm/slurm.conf", "/run/slurm/conf/slurm.conf", "/var/run/slurm/conf/slurm.conf"]
        }
        return candidates.first { FileManager.default.isReadableFile(atPath: $0) }
    }

    public func slurmNodeRecords() throws(Failure) -> [String: SlurmNodeRecord]? {
        guard let config = reachableSlurmConfig() else { return nil }
        return try LibSlurm.system().nodeRecords(config: config)
    }

    public func resolve(_ host: String) -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var results: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &results) == 0, let first = results else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [String] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let address = numericAddress(entry.pointee.ai_addr), !addresses.contains(address) {
                addresses.append(address)
            }
            cursor = entry.pointee.ai_next
        }
        return addresses
    }

    public func localInterfaces() -> [NetworkInterface] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(first) }
        var interfaces: [NetworkInterface] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            cursor = entry.pointee.ifa_next
            guard let socketAddress = entry.pointee.ifa_addr, let address = numericAddress(socketAddress) else { continue }
            interfaces.append(
                NetworkInterface(
                    name: String(cString: entry.pointee.ifa_name), address: address,
                    isIPv6: Int32(socketAddress.pointee.sa_family) == AF_INET6))
        }
        return interfaces
    }

    private func numericAddress(_ socketAddress: UnsafeMutablePointer<sockaddr>) -> String? {
        let family = Int32(socketAddress.pointee.sa_family)
        guard family == AF_INET || family == AF_INET6 else { return nil }
        let length = socklen_t(family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(socketAddress, length, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 else {
            return nil
        }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // Drop the zone of link-local IPv6 addresses (fe80::1%eth0): Ray takes plain addresses.
        return text.split(separator: "%").first.map(String.init)
    }
}
