/// The checks one node makes on itself: pure, given its facts.
public struct NodeChecks: Sendable {
    let plan: DoctorPlan
    let node: String
    let facts: any NodeFacts

    public init(plan: DoctorPlan, node: String, facts: any NodeFacts) {
        self.plan = plan
        self.node = node
        self.facts = facts
    }

    public func all() -> [DoctorFinding] {
        [slurm(), address(), ray(), gpus(), cpus(), sharedMemory(), tempSpace(), openFiles(), tempPath()].compactMap { $0 } + shared()
    }

    func finding(_ check: String, _ verdict: DoctorFinding.Verdict, _ detail: String, hint: String? = nil) -> DoctorFinding {
        DoctorFinding(node, check, verdict, detail, hint: hint)
    }

    func slurm() -> DoctorFinding {
        let library = (try? LibSlurm.system()).map { "libslurm \($0.path)" }
        guard let version = facts.slurmVersion() else {
            return finding("slurm", .warn, "scontrol --version did not answer" + (library.map { "; \($0)" } ?? ""), hint: "check that Slurm's commands are on PATH on \(node)")
        }
        guard let library else {
            return finding("slurm", .fail, "\(version); no libslurm found", hint: "install Slurm's library, or name it with SLURM_DISTIL_LIBSLURM")
        }
        return finding("slurm", .pass, "\(version); \(library)")
    }

    func address() -> DoctorFinding {
        let interfaces = facts.interfaces()
        if let name = plan.interface {
            guard let interface = interfaces.first(where: { $0.name == name }) else {
                let names = interfaces.filter { !$0.addresses.isEmpty }.map(\.name)
                return finding("address", .fail, "no interface \(name) on \(node)", hint: "interfaces with addresses here: \(names.joined(separator: ", ")); give --interface one of them")
            }
            guard interface.isUp else {
                return finding("address", .fail, "interface \(name) on \(node) is down", hint: "bring it up (ip link set \(name) up) or choose another --interface")
            }
            guard let address = interface.addresses.first(where: { !$0.contains(":") }) ?? interface.addresses.first else {
                return finding("address", .fail, "interface \(name) on \(node) has no address", hint: "give --interface an interface with an address")
            }
            return finding("address", .pass, "\(address) on \(name) (--interface)\(interface.mtu.map { ", MTU \($0)" } ?? "")")
        }
        do {
            var single = try Allocation(nodeList: node)
            single.thisNode = node
            guard let host = try AddressPlanner(directory: facts.directory).plan(single, policy: try plan.addressPolicy()).hosts.first,
                let address = host.address
            else { return finding("address", .fail, "no address for \(node)", hint: "give --interface NAME") }
            let carrier = interfaces.first { $0.addresses.contains(address) }
            if let carrier, !carrier.isUp {
                return finding("address", .fail, "\(address) is on \(carrier.name), which is down", hint: "bring \(carrier.name) up or choose --interface")
            }
            let on = carrier.map { " on \($0.name)\($0.mtu.map { ", MTU \($0)" } ?? "")" } ?? " (not an address of this node)"
            return finding("address", carrier == nil ? .fail : .pass, "\(address)\(on): \(host.reason)", hint: carrier == nil ? "Ray would advertise an address this node does not have; give --interface NAME" : nil)
        } catch {
            return finding("address", .fail, error.message, hint: error.hint)
        }
    }

    func ray() -> DoctorFinding {
        guard let path = facts.executable(plan.ray) else {
            return finding("ray", .fail, "no \(plan.ray) on \(node)", hint: "the venv must exist on every node (shared storage), or give --ray PATH")
        }
        let python = facts.read(URLPath.parent(URLPath.parent(path)) + "/pyvenv.cfg")?
            .split(separator: "\n").first { $0.hasPrefix("version") }?.split(separator: "=").last?.trimmingCharacters(in: .whitespaces)
        let pythonText = python.map { ", Python \($0)" } ?? ""
        guard let version = facts.rayVersion(path) else {
            return finding("ray", .warn, "\(path): version not readable from its package folder\(pythonText)", hint: "bootstrap will ask the dashboard whether it enforces the token")
        }
        if version.hasTokenAuthentication { return finding("ray", .pass, "Ray \(version)\(pythonText), token authentication") }
        if plan.insecureNoAuth {
            return finding("ray", .warn, "Ray \(version)\(pythonText): no token authentication (--insecure-no-auth)", hint: "use ray[default]>=2.52")
        }
        return finding("ray", .fail, "Ray \(version)\(pythonText) has no token authentication (2.52 and later)", hint: "use a venv with ray[default]>=2.52, or --insecure-no-auth on a trusted network")
    }

    func gpus() -> DoctorFinding {
        let environment = facts.environment
        let granted = environment["SLURM_GPUS_ON_NODE"].flatMap(Int.init) ?? 0
        guard granted > 0 else { return finding("gpus", .pass, "none granted") }
        let visible = environment["CUDA_VISIBLE_DEVICES"].map { $0.split(separator: ",").count }
        let indexes = (environment["SLURM_JOB_GPUS"] ?? environment["GPU_DEVICE_ORDINAL"] ?? "").split(separator: ",").compactMap { Int($0) }
        let files = deviceFiles()
        let missing = indexes.compactMap { index in index < files.count ? files[index] : "/dev/nvidia\(index)" }.filter { !facts.fileExists($0) }
        guard missing.isEmpty else {
            return finding("gpus", .fail, "\(granted) granted, device file missing: \(missing.joined(separator: ", "))", hint: "the node's GPU driver or gres.conf is wrong; ask the site to drain \(node)")
        }
        guard let visible, visible >= granted else {
            return finding("gpus", .fail, "\(granted) granted, \(visible.map(String.init) ?? "no") CUDA_VISIBLE_DEVICES", hint: "Slurm's gres configuration does not pass the GPUs on; ask the site")
        }
        return finding("gpus", .pass, "\(granted) granted, \(visible) visible (CUDA_VISIBLE_DEVICES=\(environment["CUDA_VISIBLE_DEVICES"]!))")
    }

    /// The GPU device files of this node in gres.conf (`File=/dev/nvidia[0-3]`), in index order.
    func deviceFiles() -> [String] {
        let config = facts.environment["SLURM_CONF"] ?? "/etc/slurm/slurm.conf"
        guard let text = facts.read(URLPath.parent(config) + "/gres.conf") else { return [] }
        var files: [String] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = SlurmJobRecord.fields(String(line))
            guard fields["Name"] == "gpu", let file = fields["File"] else { continue }
            if let nodes = fields["NodeName"], let expanded = try? HostList.expand(nodes), !expanded.contains(node) { continue }
            files += Self.expandBrackets(file)
        }
        return files
    }

    /// `/dev/nvidia[0-1,3]` as its files.
    static func expandBrackets(_ pattern: String) -> [String] {
        guard let open = pattern.firstIndex(of: "["), let close = pattern.firstIndex(of: "]"), open < close else { return [pattern] }
        let prefix = pattern[..<open]
        let suffix = pattern[pattern.index(after: close)...]
        var files: [String] = []
        for part in pattern[pattern.index(after: open)..<close].split(separator: ",") {
            let bounds = part.split(separator: "-").compactMap { Int($0) }
            guard let low = bounds.first else { continue }
            for index in low...(bounds.last ?? low) where bounds.count <= 2 && (bounds.last ?? low) >= low { files.append("\(prefix)\(index)\(suffix)") }
        }
        return files
    }

    func cpus() -> DoctorFinding {
        let usable = facts.usableCPUs()
        guard let granted = facts.environment["SLURM_CPUS_ON_NODE"].flatMap(Int.init) else { return finding("cpus", .pass, "\(usable) usable") }
        if usable < granted {
            return finding("cpus", .warn, "\(granted) granted, only \(usable) usable here", hint: "the step's CPU binding is narrower than the job; Ray will be told \(granted)")
        }
        return finding("cpus", .pass, "\(granted) granted, \(usable) usable")
    }

    func sharedMemory() -> DoctorFinding {
        guard let shm = facts.space("/dev/shm") else {
            return finding("shm", .warn, "no /dev/shm", hint: "Ray's object store falls back to /tmp, which is slow")
        }
        guard let wanted = plan.objectStoreBytes else {
            return finding("shm", .pass, "/dev/shm \(Self.size(shm.total)), \(Self.size(shm.free)) free (object store: Ray's choice, at most that)")
        }
        if shm.free < wanted {
            return finding(
                "shm", .fail, "/dev/shm has \(Self.size(shm.free)) free of \(Self.size(shm.total)), less than the object store's \(Self.size(wanted))",
                hint: "give a smaller --object-store-memory, or ask the site for a larger /dev/shm")
        }
        return finding("shm", .pass, "/dev/shm \(Self.size(shm.free)) free for an object store of \(Self.size(wanted))")
    }

    func tempSpace() -> DoctorFinding {
        guard let space = facts.space(plan.tempRoot) else {
            return finding("temp-space", .fail, "\(plan.tempRoot) does not exist on \(node)", hint: "give a node-local --temp-root")
        }
        let verdict: DoctorFinding.Verdict = space.free < 1 << 30 ? .fail : space.free < 10 << 30 ? .warn : .pass
        return finding(
            "temp-space", verdict, "\(plan.tempRoot): \(Self.size(space.free)) free",
            hint: verdict == .pass ? nil : "Ray's logs and spilled objects go there; give a --temp-root with more room")
    }

    func openFiles() -> DoctorFinding {
        let limit = facts.openFilesLimit()
        if limit < 65_536 {
            return finding(
                "open-files", limit < 4_096 ? .fail : .warn, "ulimit -n is \(limit)",
                hint: "Ray wants 65536 or more at scale: add `ulimit -n 65536` to the batch script, or ask the site to raise the hard limit")
        }
        return finding("open-files", .pass, "ulimit -n is \(limit == .max ? "unlimited" : String(limit))")
    }

    func tempPath() -> DoctorFinding {
        let path = BootstrapPlan.rayTempDirectory(root: plan.tempRoot, jobID: plan.jobID, node: node)
        if path.count > BootstrapPlan.maximumTempDirectoryLength {
            return finding(
                "temp-path", .fail, "\(path) is \(path.count) characters; Ray's Unix sockets need at most \(BootstrapPlan.maximumTempDirectoryLength)",
                hint: "give a shorter --temp-root")
        }
        return finding("temp-path", .pass, "\(path) (\(path.count) characters)")
    }

    /// Where Ray's dashboard will run: how long it will serve nothing at each start, from the probe's
    /// `times` (nil when it did not end within `limit` seconds). NodeDoctor times it on the head only,
    /// beside the rendezvous, as it takes up to a few seconds.
    func cloudProbe(_ times: CloudProbeTimes?, limit: Double = NodeChecks.cloudProbeLimit) -> DoctorFinding {
        let why = "Ray's dashboard probes for a cloud provider at every start, with usage stats on or off, and serves nothing until it is done"
        guard let times else {
            return finding(
                "cloud-probe", .warn, "looking up \(CloudProbeTimes.googleName) did not end within \(Int(limit)) s: \(why)",
                hint: Self.cloudProbeHint(lookupIsSlow: true, linkLocalIsSilent: false))
        }
        let seconds = { (value: Double) in String(format: "%.1f", value) }
        let detail =
            "about \(seconds(times.total)) s before Ray's dashboard answers (\(CloudProbeTimes.address) \(seconds(times.linkLocal)) s, asked twice; "
            + "\(CloudProbeTimes.googleName): lookup \(seconds(times.lookup)) s\(times.google > 0 ? ", connect \(seconds(times.google)) s" : ""))"
        guard times.total > 3 else { return finding("cloud-probe", .pass, detail) }
        return finding(
            "cloud-probe", .warn, "\(detail): \(why)",
            hint: Self.cloudProbeHint(lookupIsSlow: times.lookup > 1, linkLocalIsSilent: times.linkLocal >= 0.9))
    }

    /// How long the doctor waits for the cloud probe: a resolver's own timeouts are not bounded.
    static let cloudProbeLimit: Double = 15

    static func cloudProbeHint(lookupIsSlow: Bool, linkLocalIsSilent: Bool) -> String {
        var fixes: [String] = []
        if lookupIsSlow { fixes.append("a resolver that answers at once for names it does not know (this one times out)") }
        if linkLocalIsSilent { fixes.append("a route that rejects \(CloudProbeTimes.address) instead of dropping it (ip route add prohibit \(CloudProbeTimes.address)/32)") }
        return "every job's bring-up waits for it; the site can remove the wait with "
            + (fixes.isEmpty ? "faster answers from \(CloudProbeTimes.address) and its DNS" : fixes.joined(separator: ", and "))
    }

    func shared() -> [DoctorFinding] {
        plan.sharedProbes.map { probe in
            let seen = facts.read(probe.file)?.trimmingCharacters(in: .whitespacesAndNewlines)
            if seen == plan.nonce { return finding("shared", .pass, "\(probe.role) \(probe.folder)") }
            let what = seen == nil ? "the batch node's file is not there" : "another file is there"
            return finding(
                "shared", .fail, "\(probe.role) \(probe.folder) is not the one the batch node sees (\(what))",
                hint: "it must be on storage every node mounts at the same path (NFS, Lustre, GPFS)")
        }
    }

    static func size(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : "\((value * 10).rounded() / 10) \(units[unit])"
    }
}

/// Folder arithmetic on plain paths.
enum URLPath {
    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
