import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// TCP ports on this machine and its neighbours: free to bind here, or answering there.
public enum PortProbe {
    /// SOCK_STREAM: Glibc's Swift module does not export the constant in every build configuration.
    static let streamSocket: Int32 = 1

    /// Whether a TCP port can still be bound on an address of this machine.
    public static func isFree(_ port: Int, on address: String) -> Bool {
        withSocket(address, port) { descriptor, socketAddress, length in bind(descriptor, socketAddress, length) == 0 }
    }

    /// Whether something accepts TCP connections at address:port within `seconds` (a refused connect
    /// answers at once).
    public static func accepts(_ port: Int, on address: String, within seconds: Int = 2) -> Bool {
        withSocket(address, port) { descriptor, socketAddress, length in
            var timeout = timeval(tv_sec: seconds, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            return connect(descriptor, socketAddress, length) == 0
        }
    }

    /// Runs `body` with a fresh TCP socket and the socket address of address:port (IPv4 or IPv6).
    private static func withSocket(
        _ address: String, _ port: Int, _ body: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Bool
    ) -> Bool {
        let isIPv6 = address.contains(":")
        let descriptor = socket(isIPv6 ? AF_INET6 : AF_INET, streamSocket, 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        if isIPv6 {
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            socketAddress.sin6_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET6, address, &socketAddress.sin6_addr) == 1 else { return false }
            return withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, address, &socketAddress.sin_addr) == 1 else { return false }
        return withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}
