import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@testable import SlurmDistil

/// The doctor's checks with made-up node facts, its network check on loopback, and its report.
@Suite struct DoctorTests {
    struct Facts: NodeFacts {
        var environment: [String: String] = ["SLURM_GPUS_ON_NODE": "2", "CUDA_VISIBLE_DEVICES": "0,1", "SLURM_JOB_GPUS": "0,1", "SLURM_CPUS_ON_NODE": "4"]
        var directory: any NodeDirectory = FakeNodeDirectory(records: nil, dns: ["n1": ["10.0.0.1"], "n2": ["10.0.0.2"]])
        var interfaceList = [
            InterfaceState(name: "lo", addresses: ["127.0.0.1"], isUp: true, mtu: 65536),
            InterfaceState(name: "eth0", addresses: ["10.0.0.2"], isUp: true, mtu: 1500),
            InterfaceState(name: "ib0", addresses: ["192.168.7.2"], isUp: true, mtu: 2044),
        ]
        var files: [String: String] = ["/v/pyvenv.cfg": "home = /usr/bin\nversion = 3.11.7\n", "/dev/nvidia0": "", "/dev/nvidia1": ""]
        var spaces: [String: (Int, Int)] = ["/dev/shm": (8 << 30, 6 << 30), "/tmp": (100 << 30, 50 << 30)]
        var openFiles = 1 << 20
        var ray: RayVersion? = RayVersion("2.60.0")
        var rayPath: String? = "/v/bin/ray"
        var cloud = CloudProbeTimes(linkLocal: 1.0, lookup: 0.01, google: 0)

        func interfaces() -> [InterfaceState] { interfaceList }
        func fileExists(_ path: String) -> Bool { files[path] != nil }
        func read(_ path: String) -> String? { files[path] }
        func space(_ path: String) -> (total: Int, free: Int)? { spaces[path].map { (total: $0.0, free: $0.1) } }
        func openFilesLimit() -> Int { openFiles }
        func usableCPUs() -> Int { 4 }
        func slurmVersion() -> String? { "slurm 22.05.8" }
        func rayVersion(_ ray: String) -> RayVersion? { self.ray }
        func executable(_ ray: String) -> String? { rayPath }
        func cloudProbe() -> CloudProbeTimes { cloud }
    }

    let plan = DoctorPlan(
        jobID: "77", nodes: ["n1", "n2"], head: "n1", headAddress: "10.0.0.1", policy: .auto, ray: "ray", tempRoot: "/tmp",
        objectStoreBytes: 1 << 30, ports: RayPorts.block(jobID: "77"),
        sharedProbes: [.init(role: "submit folder", folder: "/home/u", file: "/home/u/.probe")], nonce: "n0nce", insecureNoAuth: false)

    func verdicts(_ facts: Facts, plan: DoctorPlan? = nil) -> [String: DoctorFinding] {
        Dictionary(NodeChecks(plan: plan ?? self.plan, node: "n2", facts: facts).all().map { ($0.check, $0) }) { first, _ in first }
    }

    @Test func aHealthyNodePassesEveryCheckButTheUnsharedFolder() {
        var facts = Facts()
        facts.files["/home/u/.probe"] = "n0nce\n"
        let found = verdicts(facts)
        for check in ["address", "ray", "gpus", "cpus", "shm", "temp-space", "open-files", "temp-path", "shared"] {
            #expect(found[check]?.verdict == .pass, "\(check): \(found[check]?.detail ?? "missing")")
        }
        #expect(found["address"]?.detail.hasPrefix("10.0.0.2 on eth0, MTU 1500") == true, "\(found["address"]!.detail)")
        #expect(found["ray"]?.detail == "Ray 2.60.0, Python 3.11.7, token authentication")
    }

    /// A node with a resolver that times out: Ray's dashboard serves nothing for 8 s at every start.
    @Test func aSlowCloudProbeIsWarnedAboutWithTheSecondsAndTheFix() {
        let check = { (times: CloudProbeTimes?) in NodeChecks(plan: plan, node: "n1", facts: Facts()).cloudProbe(times) }
        let quick = check(Facts().cloud)
        #expect(quick.verdict == .pass && quick.detail.hasPrefix("about 2.0 s before Ray's dashboard answers (169.254.169.254 1.0 s, asked twice"), "\(quick.detail)")
        let slow = check(CloudProbeTimes(linkLocal: 1.0, lookup: 6.1, google: 0))
        #expect(slow.verdict == .warn && slow.detail.hasPrefix("about 8.1 s before Ray's dashboard answers"), "\(slow.detail)")
        #expect(slow.detail.contains("metadata.google.internal: lookup 6.1 s") && slow.detail.contains("with usage stats on or off"))
        #expect(slow.hint?.contains("a resolver that answers at once") == true && slow.hint?.contains("prohibit 169.254.169.254/32") == true, "\(slow.hint ?? "")")
        let hung = check(nil)
        #expect(hung.verdict == .warn && hung.detail.hasPrefix("looking up metadata.google.internal did not end within 15 s"))
    }

    @Test func eachFaultIsNamedWithAHint() {
        var facts = Facts()
        facts.interfaceList[2].isUp = false
        facts.files["/dev/nvidia1"] = nil
        facts.spaces["/dev/shm"] = (64 << 20, 60 << 20)
        facts.openFiles = 1024
        facts.ray = RayVersion("2.44.1")
        var interfacePlan = plan
        interfacePlan.interface = "ib0"
        interfacePlan.policy = "interface"
        let found = verdicts(facts, plan: interfacePlan)
        #expect(found["address"]?.verdict == .fail && found["address"]?.detail == "interface ib0 on n2 is down")
        #expect(found["gpus"]?.verdict == .fail && found["gpus"]?.detail.contains("device file missing: /dev/nvidia1") == true)
        #expect(found["shm"]?.verdict == .fail && found["shm"]?.detail.contains("less than the object store's 1.0 GiB") == true)
        #expect(found["open-files"]?.verdict == .fail)
        #expect(found["ray"]?.verdict == .fail && found["ray"]?.detail.contains("Ray 2.44.1, Python 3.11.7 has no token authentication") == true)
        #expect(found["shared"]?.verdict == .fail && found["shared"]?.detail.contains("submit folder /home/u is not the one the batch node sees") == true)
        for finding in found.values where finding.verdict == .fail { #expect(finding.hint != nil, "\(finding.check)") }
        var missing = interfacePlan
        missing.interface = "ib7"
        #expect(verdicts(Facts(), plan: missing)["address"]?.detail == "no interface ib7 on n2")
        var noVenv = Facts()
        noVenv.rayPath = nil
        #expect(verdicts(noVenv)["ray"]?.detail == "no ray on n2")
        var longRoot = plan
        longRoot.tempRoot = "/scratch/a/rather/long/node/local/folder"
        #expect(verdicts(Facts(), plan: longRoot)["temp-path"]?.verdict == .fail)
    }

    @Test func gresDeviceFilesAreReadForThisNode() {
        var facts = Facts()
        facts.environment["SLURM_CONF"] = "/etc/slurm/slurm.conf"
        facts.files["/etc/slurm/gres.conf"] = "NodeName=n[1-3] Name=gpu File=/run/v/dev/nvidia[0-1]\n"
        facts.files["/run/v/dev/nvidia0"] = ""
        let found = verdicts(facts)
        #expect(found["gpus"]?.detail == "2 granted, device file missing: /run/v/dev/nvidia1")
        #expect(NodeChecks.expandBrackets("/dev/nvidia[0-1,3]") == ["/dev/nvidia0", "/dev/nvidia1", "/dev/nvidia3"])
    }

    @Test func thePlanRoundTripsAsOneArgument() throws {
        #expect(try DoctorPlan(argument: plan.argument) == plan)
        expectFailure(.usage, containing: "cannot read its plan") { _ = try DoctorPlan(argument: "{") }
    }

    @Test func workersReachTheHeadAndTheirClocksAreCompared() throws {
        // Ports the kernel just handed out, so that nothing else on the machine holds them.
        let ports = (0..<2).map { _ in
            let socket = Socket.listen("127.0.0.1", 0)!
            defer { close(socket) }
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
            return Int(UInt16(bigEndian: address.sin_port))
        }
        let (listeners, taken) = Rendezvous.listen(on: "127.0.0.1", ports: ports)
        #expect(taken.isEmpty && listeners.count == 2)
        let worker = Thread { _ = Rendezvous.connect(node: "n2", head: "127.0.0.1", ports: ports, deadline: Date().addingTimeInterval(3)) }
        worker.start()
        let seen = Rendezvous.accept(listeners, workers: ["n2"], deadline: Date().addingTimeInterval(4))
        #expect(seen["n2"]?.ports == Set(ports))
        #expect(abs(seen["n2"]?.skew ?? 99) < 0.5, "one machine, one clock")
        // Nothing listens now: the worker names the ports it could not reach, within its deadline.
        let started = Date()
        #expect(Rendezvous.connect(node: "n2", head: "127.0.0.1", ports: ports, deadline: Date().addingTimeInterval(1)) == ports)
        #expect(Date().timeIntervalSince(started) < 3)
    }

    @Test func aNodeThatSaysNothingFailsAndTheTableNamesIt() async throws {
        struct Launcher: StepLauncher {
            func start(_ step: StepCommand, environment: [String: String]) throws(Failure) -> any RunningStep { fatalError("not used") }
            func run(_ arguments: [String], environment: [String: String], outputPath: String, timeout: Double) async throws(Failure) -> Int32? {
                let line = NodeDoctor.line(DoctorFinding("n1", "slurm", .pass, "slurm 22.05.8"))
                try? (line + "\nsrun: error: n2: task 1: Exited with exit code 127\n").write(toFile: outputPath, atomically: true, encoding: .utf8)
                return 1
            }
        }
        let allocation = try Allocation(environment: ["SLURM_JOB_ID": "9", "SLURM_JOB_NODELIST": "n[1-2]", "SLURMD_NODENAME": "n1"])
        let report = try await Doctor(launcher: Launcher(), directory: FakeNodeDirectory(records: nil, dns: ["n1": ["10.0.0.1"], "n2": ["10.0.0.2"]]))
            .run(allocation: allocation, options: DoctorOptions(bootstrap: BootstrapOptions(launcher: "sd")), environment: ["PATH": "/nonexistent"], currentDirectory: "/nonexistent")
        #expect(report.failed)
        let step = try #require(report.findings.first { $0.check == "step" })
        #expect(step.node == "n2" && step.detail.contains("no answer from n2 (srun exit 1): srun: error: n2: task 1: Exited with exit code 127"))
        let table = report.table
        #expect(table.contains("n2    step   FAIL    no answer from n2"))
        #expect(table.contains("hint: the node cannot run slurm-distil"))
        #expect(table.contains("2 checks: 1 PASS, 0 WARN, 1 FAIL"))
        let answeredLate = DoctorReport(
            nodes: ["n1", "n2"], findings: [DoctorFinding("n2", "shm", .fail, "small"), DoctorFinding("n1", "shm", .fail, "small")], seconds: 1)
        #expect(answeredLate.failures.map(\.node) == ["n1", "n2"], "node order, whatever order the nodes answered in")
    }
}
