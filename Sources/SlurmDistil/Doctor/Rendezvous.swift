import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The doctor's network check between nodes, bounded in time and inside the job's port block: the
/// head listens on the ports Ray would use, every worker connects to each, and on the first port
/// sends its clock, so that the head measures the skew with one round trip's precision.
enum Rendezvous {
    /// Head side, part one: a listener on each head port that is free. Taken ports are returned.
    static func listen(on address: String, ports: [Int]) -> (listeners: [(port: Int, socket: Int32)], taken: [Int]) {
        var listeners: [(Int, Int32)] = []
        var taken: [Int] = []
        for port in ports {
            // Ray's gRPC servers bind every interface: a port held anywhere on the head is taken for them.
            let wildcard = address.contains(":") ? "::" : "0.0.0.0"
            guard PortProbe.isFree(port, on: wildcard), let socket = Socket.listen(address, port) else {
                taken.append(port)
                continue
            }
            listeners.append((port, socket))
        }
        return (listeners, taken)
    }

    /// Head side, part two: accepts until every worker has reached every listener or `deadline`;
    /// returns, per worker, the ports it reached and its clock's offset against this one.
    static func accept(_ listeners: [(port: Int, socket: Int32)], workers: [String], deadline: Date) -> [String: (ports: Set<Int>, skew: Double?)] {
        var seen: [String: (ports: Set<Int>, skew: Double?)] = [:]
        func complete() -> Bool { workers.allSatisfy { seen[$0]?.ports.count == listeners.count } }
        var descriptors = listeners.map { pollfd(fd: $0.socket, events: Int16(POLLIN), revents: 0) }
        while !complete(), Date() < deadline, !descriptors.isEmpty {
            let wait = Int32(max(0, min(500, deadline.timeIntervalSinceNow * 1000)))
            guard poll(&descriptors, nfds_t(descriptors.count), wait) > 0 else { continue }
            for (index, descriptor) in descriptors.enumerated() where descriptor.revents & Int16(POLLIN) != 0 {
                let connection = Glibc.accept(descriptor.fd, nil, nil)
                guard connection >= 0 else { continue }
                // Every connection starts with "NODE CLOCK\n".
                let line = Socket.readLine(connection, timeout: 2)
                let received = Date().timeIntervalSince1970
                close(connection)
                let parts = line.split(separator: " ")
                guard parts.count == 2, let clock = Double(parts[1]) else { continue }
                let node = String(parts[0])
                var entry = seen[node] ?? ([], nil)
                entry.ports.insert(listeners[index].port)
                if entry.skew == nil { entry.skew = clock - received }
                seen[node] = entry
            }
        }
        for listener in listeners { close(listener.socket) }
        return seen
    }

    /// Worker side: each port of the head, retried until `deadline`; returns the ports not reached.
    static func connect(node: String, head: String, ports: [Int], deadline: Date) -> [Int] {
        var missing = ports
        while !missing.isEmpty, Date() < deadline {
            missing = missing.filter { port in
                guard let socket = Socket.connect(head, port, timeout: 1) else { return true }
                defer { close(socket) }
                let line = "\(node) \(String(format: "%.6f", Date().timeIntervalSince1970))\n"
                return !Socket.send(socket, line)
            }
            if !missing.isEmpty { usleep(200_000) }
        }
        return missing
    }
}

/// Plain blocking TCP sockets with time limits, for the doctor's short checks.
enum Socket {
    static func listen(_ address: String, _ port: Int) -> Int32? {
        guard let (descriptor, storage, length) = make(address, port) else { return nil }
        var one: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
        guard bound == 0, Glibc.listen(descriptor, 64) == 0 else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    static func connect(_ address: String, _ port: Int, timeout: Int) -> Int32? {
        guard let (descriptor, storage, length) = make(address, port) else { return nil }
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, length) } }
        guard connected == 0 else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    static func send(_ descriptor: Int32, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    static func readLine(_ descriptor: Int32, timeout: Int) -> String {
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        guard count > 0 else { return "" }
        return String(decoding: buffer[..<count], as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
    }

    /// A TCP socket for address:port, with its socket address (IPv4 or IPv6).
    private static func make(_ address: String, _ port: Int) -> (Int32, sockaddr_storage, socklen_t)? {
        var storage = sockaddr_storage()
        let isIPv6 = address.contains(":")
        let parsed = withUnsafeMutablePointer(to: &storage) { pointer -> Bool in
            if isIPv6 {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { socketAddress in
                    socketAddress.pointee.sin6_family = sa_family_t(AF_INET6)
                    socketAddress.pointee.sin6_port = in_port_t(UInt16(port).bigEndian)
                    return inet_pton(AF_INET6, address, &socketAddress.pointee.sin6_addr) == 1
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { socketAddress in
                socketAddress.pointee.sin_family = sa_family_t(AF_INET)
                socketAddress.pointee.sin_port = in_port_t(UInt16(port).bigEndian)
                return inet_pton(AF_INET, address, &socketAddress.pointee.sin_addr) == 1
            }
        }
        guard parsed else { return nil }
        let descriptor = socket(isIPv6 ? AF_INET6 : AF_INET, PortProbe.streamSocket, 0)
        guard descriptor >= 0 else { return nil }
        return (descriptor, storage, socklen_t(isIPv6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size))
    }
}
