#if canImport(Glibc)
    import Glibc
#endif

/// How a node's address for Ray is chosen.
public enum AddressPolicy: Sendable, Equatable {
    /// Slurm's node record when the controller is reachable, else DNS.
    case auto
    /// NodeAddr from Slurm's node records (libslurm).
    case slurm
    /// The node name through the resolver (DNS, /etc/hosts).
    case dns
    /// The address of a named interface (ib0, eth0), read by each node on itself.
    case interface(String)

    public var name: String {
        if case .interface(let name) = self { "interface \(name)" } else { argument }
    }

    /// The word `--address-from` takes for it.
    public var argument: String {
        switch self {
        case .auto: "auto"
        case .slurm: "slurm"
        case .dns: "dns"
        case .interface: "interface"
        }
    }

    /// From `--address-from` and `--interface`, as `hosts`, `bootstrap` and the node agent take them.
    public init(addressFrom: String, interface: String?) throws(Failure) {
        if let interface {
            guard addressFrom == "auto" || addressFrom == "interface" else {
                throw Failure.usage(
                    "--interface \(interface) conflicts with --address-from \(addressFrom)",
                    hint: "give one of them: --interface NAME alone selects interface addresses")
            }
            guard !interface.isEmpty, interface.count < 16, !interface.contains("/"), !interface.contains(" ") else {
                throw Failure.usage("invalid interface name \(interface.debugDescription)", hint: "give a name such as ib0 or eth0 (see `ip -brief address`)")
            }
            self = .interface(interface)
            return
        }
        switch addressFrom {
        case "auto": self = .auto
        case "slurm": self = .slurm
        case "dns": self = .dns
        case "interface":
            throw Failure.usage("--address-from interface needs --interface NAME", hint: "e.g. --interface ib0")
        default:
            throw Failure.usage("unknown --address-from \(addressFrom.debugDescription)", hint: "choose auto, slurm, dns or interface")
        }
    }
}

/// One node of the allocation as Ray will use it.
public struct HostEntry: Sendable, Equatable, Codable {
    public enum Role: String, Sendable, Codable { case head, worker }

    public var name: String
    public var role: Role
    /// nil when only the node itself can tell (an interface on another node).
    public var address: String?
    /// Why this address: where it came from and what was passed over.
    public var reason: String
    public var cpus: Int?
    public var gpus: Int
    /// Why this node has no address at all (it does not resolve, it has no such interface); nil when it has one.
    public var problem: String?
}

public struct HostPlan: Sendable, Equatable, Codable {
    public var jobID: String
    public var nodeList: String
    public var head: String
    public var policy: String
    public var gpuSource: String
    public var hosts: [HostEntry]
}

/// Every node of an allocation, and the nodes that have no address with why.
public struct HostSurvey: Sendable {
    public struct NodeFailure: Sendable {
        public var node: String
        public var failure: Failure
    }

    public var plan: HostPlan
    public var failures: [NodeFailure]

    /// One failure for all the nodes without an address, of the first one's kind (exit status); nil if none.
    public var summary: Failure? {
        guard let first = failures.first else { return nil }
        guard failures.count > 1 else { return first.failure }
        return Failure(
            first.failure.kind,
            "\(failures.count) of \(plan.hosts.count) nodes have no address (\(HostList.compact(failures.map(\.node)))); the first: \(first.failure.message)",
            hint: first.failure.hint)
    }
}

/// Roles and addresses for every node: pure, given what the directory answers.
public struct AddressPlanner {
    let directory: any NodeDirectory

    public init(directory: any NodeDirectory) {
        self.directory = directory
    }

    /// Head = the first node of the allocation, or `headNode`; never decided by matching addresses.
    public static func head(of allocation: Allocation, requested: String?) throws(Failure) -> String {
        guard let requested else { return allocation.nodes[0] }
        guard allocation.nodes.contains(requested) else {
            throw Failure.usage(
                "--head-node \(requested) is not part of the allocation (\(allocation.nodeList))",
                hint: "choose one of: \(allocation.nodes.prefix(8).joined(separator: ", "))\(allocation.nodes.count > 8 ? ", ..." : "")")
        }
        return requested
    }

    /// Every node's address, for a run that needs them all: the first node without one fails it.
    public func plan(_ allocation: Allocation, policy: AddressPolicy, headNode: String? = nil) throws(Failure) -> HostPlan {
        let survey = try self.survey(allocation, policy: policy, headNode: headNode)
        if let first = survey.failures.first { throw first.failure }
        return survey.plan
    }

    /// Every node, those without an address included with the reason, so that `hosts` can show the whole
    /// allocation (one name that did not resolve once hid every other node). What concerns every node at
    /// once (no slurm.conf for --address-from slurm, a --head-node outside the allocation) is still thrown.
    public func survey(_ allocation: Allocation, policy: AddressPolicy, headNode: String? = nil) throws(Failure) -> HostSurvey {
        let head = try Self.head(of: allocation, requested: headNode)
        var records: [String: SlurmNodeRecord]? = nil
        switch policy {
        case .slurm:
            records = try directory.slurmNodeRecords()
            guard records != nil else {
                throw Failure.environment(
                    "--address-from slurm needs Slurm's configuration, and no slurm.conf is reachable (SLURM_CONF, /etc/slurm/slurm.conf)",
                    hint: "set SLURM_CONF, run inside the allocation, or use --address-from dns or --interface NAME")
            }
        case .auto:
            // The controller may be unreachable from a login node; DNS still answers then.
            records = try? directory.slurmNodeRecords()
        case .dns, .interface:
            break
        }
        var hosts: [HostEntry] = []
        var failures: [HostSurvey.NodeFailure] = []
        for (index, name) in allocation.nodes.enumerated() {
            var entry = HostEntry(
                name: name, role: name == head ? .head : .worker, address: nil, reason: "",
                cpus: index < allocation.cpusPerNode.count ? allocation.cpusPerNode[index] : nil, gpus: allocation.gpusPerNode)
            do {
                (entry.address, entry.reason) = try self.address(of: name, policy: policy, records: records, thisNode: allocation.thisNode)
            } catch {
                entry.reason = error.message
                entry.problem = error.message
                failures.append(HostSurvey.NodeFailure(node: name, failure: error))
            }
            hosts.append(entry)
        }
        let plan = HostPlan(
            jobID: allocation.jobID, nodeList: allocation.nodeList, head: head, policy: policy.name,
            gpuSource: allocation.gpuSource, hosts: hosts)
        return HostSurvey(plan: plan, failures: failures)
    }

    func address(of node: String, policy: AddressPolicy, records: [String: SlurmNodeRecord]?, thisNode: String?)
        throws(Failure) -> (String?, String)
    {
        switch policy {
        case .interface(let interface):
            guard node == thisNode else { return (nil, "read from \(interface) on \(node) itself") }
            return try (localAddress(interface: interface, node: node), "address of \(interface) on this node")
        case .slurm, .auto:
            if let record = records?[node] {
                if Self.isIPAddress(record.address) {
                    return (record.address, "Slurm's NodeAddr")
                }
                let (address, detail) = try resolve(record.address, node: node)
                return (address, "Slurm's NodeAddr \(record.address), resolved: \(detail)")
            }
            if policy == .slurm {
                throw Failure.environment(
                    "Slurm's controller has no node record for \(node)",
                    hint: "check `scontrol show node \(node)`, or use --address-from dns")
            }
            let (address, detail) = try resolve(node, node: node)
            return (address, "DNS (no Slurm node records here): \(detail)")
        case .dns:
            let (address, detail) = try resolve(node, node: node)
            return (address, "DNS: \(detail)")
        }
    }

    private func resolve(_ host: String, node: String) throws(Failure) -> (String, String) {
        let all = directory.resolve(host)
        guard !all.isEmpty else {
            throw Failure.environment(
                "node \(node) has no address: \(host) does not resolve",
                hint: "check DNS or /etc/hosts for \(host), or give --interface NAME (e.g. ib0) to use an interface's address")
        }
        let usable = all.filter { !Self.isLoopback($0) }
        guard let first = usable.first(where: { !$0.contains(":") }) ?? usable.first else {
            throw Failure.environment(
                "node \(node) resolves only to loopback (\(all.joined(separator: ", "))), which other nodes cannot reach",
                hint: "Debian maps the own hostname to 127.0.1.1; give --interface NAME (e.g. ib0, eth0) or fix /etc/hosts")
        }
        if usable.count == 1 {
            return (first, first)
        }
        return (first, "\(all.joined(separator: ", ")); chose \(first), the first non-loopback IPv4 (give --interface to choose)")
    }

    /// This node's address on `interface`: IPv4 first, then a global IPv6, then link-local IPv6.
    public func localAddress(interface: String, node: String) throws(Failure) -> String {
        let all = directory.localInterfaces()
        let matching = all.filter { $0.name == interface }
        let choice =
            matching.first { !$0.isIPv6 } ?? matching.first { $0.isIPv6 && !$0.address.lowercased().hasPrefix("fe80") }
            ?? matching.first
        guard let choice else {
            var names: [String] = []
            for entry in all where !names.contains(entry.name) { names.append(entry.name) }
            throw Failure.usage(
                "node \(node) has no interface \(interface) with an address",
                hint: "interfaces with addresses on \(node): \(names.isEmpty ? "none" : names.joined(separator: ", "))")
        }
        return choice.address
    }

    public static func isIPAddress(_ text: String) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16)
        return inet_pton(AF_INET, text, &buffer) == 1 || inet_pton(AF_INET6, text, &buffer) == 1
    }

    static func isLoopback(_ address: String) -> Bool {
        address.hasPrefix("127.") || address == "::1"
    }
}
