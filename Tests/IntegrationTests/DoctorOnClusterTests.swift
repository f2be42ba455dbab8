import Foundation
import SlurmDistil
import Testing
import TestSupport

/// `slurm-distil doctor` in real allocations: a clean one passes, and each injected fault is named
/// with its node. Faults live in one node's namespaces (its mount or network namespace) only.
@Suite(.enabled(if: VirtualCluster.isUp)) struct DoctorOnClusterTests {
    static let venv = PackagePaths.root.appending(path: ".venv-ray").path

    /// Runs doctor in a batch job of `nodes` nodes with one GPU each; returns the job and its findings.
    func doctor(_ arguments: [String], nodes: Int = 3, in directory: URL? = nil, before release: ((Int) throws -> Void)? = nil) throws
        -> (job: SlurmJob, report: DoctorReport, table: String)
    {
        let folder = try directory ?? temporaryDirectory()
        let command = ([PackagePaths.binary, "doctor", "--ray", Self.venv + "/bin/ray", "--object-store-memory", "80M"] + arguments)
            .map { "'\($0)'" }.joined(separator: " ")
        let script = "\(command) --json > doctor.json; status=$?; \(command) > doctor.txt; exit $status"
        var sbatch = ["sbatch", "--parsable", "-N", String(nodes), "--gpus-per-node=1", "-o", "out.txt", "--wrap", script]
        if release != nil { sbatch.insert("--hold", at: 2) }
        let submitted = try VirtualCluster.exec("ctl", sbatch, in: folder)
        guard let id = Int(submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw TestFailure("sbatch: \(submitted.stderr)") }
        if let release {
            try release(id)
            _ = try VirtualCluster.exec("ctl", ["scontrol", "release", String(id)])
        }
        let job = try VirtualCluster.waitForEnd(id, timeout: 120)
        let json = try Data(contentsOf: folder.appending(path: "doctor.json"))
        let table = (try? String(contentsOf: folder.appending(path: "doctor.txt"), encoding: .utf8)) ?? ""
        return (job, try JSONDecoder().decode(DoctorReport.self, from: json), table)
    }

    func expectNamed(
        _ report: DoctorReport, _ check: String, on node: String, _ fragment: String, verdict: DoctorFinding.Verdict = .fail,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        // A check can have several findings on a node (the shared folders): the one about `fragment`'s subject.
        let candidates = report.findings.filter { $0.check == check && $0.node == node }
        let finding = candidates.first { $0.detail.contains(fragment) } ?? candidates.first
        #expect(finding?.verdict == verdict, "\(check) on \(node): \(candidates)", sourceLocation: sourceLocation)
        #expect(finding?.detail.contains(fragment) == true, "\(finding?.detail ?? "no finding")", sourceLocation: sourceLocation)
        if verdict != .pass { #expect(finding?.hint != nil, sourceLocation: sourceLocation) }
    }

    func record(_ scenario: String, _ behaviour: String, _ job: SlurmJob) {
        ReliabilityLog.record(.init(category: "fault", scenario: "doctor: \(scenario)", behaviour: behaviour, exitCode: "\(job.exitCode.split(separator: ":").first ?? "") (Slurm \(job.state))"))
    }

    @Test func aCleanAllocationPasses() throws {
        let (job, report, table) = try doctor(["--working-dir", "."])
        #expect(job.state == "COMPLETED", "\(table)")
        #expect(!report.failed, "\(table)")
        // This machine's own ulimit -n (20000 here) is below what Ray wants at scale: the one warning.
        #expect(report.findings.allSatisfy { $0.verdict == .pass || $0.check == "open-files" }, "\(table)")
        for node in ["n1", "n2", "n3"] {
            for check in ["slurm", "address", "ray", "gpus", "cpus", "shm", "temp-space", "open-files", "temp-path", "shared"] {
                #expect(report.findings.contains { $0.node == node && $0.check == check }, "\(check) on \(node)")
            }
        }
        expectNamed(report, "tcp", on: "n3", "reached n1 (10.213.77.11) on all 11 head ports", verdict: .pass)
        expectNamed(report, "clock", on: "n2", "against n1", verdict: .pass)
        expectNamed(report, "cloud-probe", on: "n1", "before Ray's dashboard answers", verdict: .pass)
        #expect(!report.findings.contains { $0.check == "cloud-probe" && $0.node != "n1" }, "only where the dashboard runs")
        #expect(report.findings.filter { $0.check == "shared" }.count == 9, "submit folder, working dir and venv on each node")
        #expect(report.seconds < 15, "doctor reports within seconds (\(report.seconds) s)")
        ReliabilityLog.record(.init(category: "fault", scenario: "doctor: a clean 3-node allocation", behaviour: "no check FAILs (WARN only for this machine's own ulimit -n), in \(String(format: "%.1f", report.seconds)) s", exitCode: "0", detectSeconds: report.seconds))
    }

    /// A resolver that never answers (the virtual nodes had one until they got their own): Ray's
    /// dashboard serves nothing until its cloud probe has given up on metadata.google.internal.
    @Test func aResolverThatTimesOutIsWarnedAboutOnTheHead() throws {
        let silent = try temporaryDirectory().appending(path: "resolv.conf").path
        // On the cluster's subnet, where no host has that address: every query goes unanswered.
        try "nameserver 10.213.77.254\n".write(toFile: silent, atomically: true, encoding: .utf8)
        _ = try VirtualCluster.exec("n1", ["mount", "--bind", silent, "/etc/resolv.conf"])
        defer { _ = try? VirtualCluster.exec("n1", ["umount", "/etc/resolv.conf"]) }
        let (job, report, table) = try doctor(["--working-dir", "."])
        #expect(job.state == "COMPLETED" && !report.failed, "a warning, not a failure: \(table)")
        expectNamed(report, "cloud-probe", on: "n1", "metadata.google.internal: lookup", verdict: .warn)
        let finding = try #require(report.findings.first { $0.check == "cloud-probe" })
        let seconds = try #require(Double(finding.detail.split(separator: " ")[1]), "\(finding.detail)")
        #expect(seconds >= 5, "glibc waits 5 s for an unanswered query: \(finding.detail)")
        #expect(finding.hint?.contains("a resolver that answers at once") == true, "\(finding.hint ?? "")")
        record("a resolver that does not answer, on the head", "WARN cloud-probe on n1: Ray's dashboard would wait \(String(format: "%.1f", seconds)) s at every start; the hint names the resolver", job)
    }

    @Test func aMissingOrDownInterfaceIsNamedWithItsNode() throws {
        // A veth pair stands in for an InfiniBand interface (this kernel has no dummy interfaces).
        for (node, address) in [("n1", "192.168.213.11"), ("n3", "192.168.213.13")] {
            _ = try VirtualCluster.exec(node, ["sh", "-c", "ip link add ib0 type veth peer name ib0peer && ip addr add \(address)/24 dev ib0 && ip link set ib0peer up && ip link set ib0 up"])
        }
        _ = try VirtualCluster.exec("n3", ["ip", "link", "set", "ib0", "down"])
        defer { for node in ["n1", "n3"] { _ = try? VirtualCluster.exec(node, ["ip", "link", "del", "ib0"]) } }
        let (job, report, table) = try doctor(["--interface", "ib0"])
        #expect(job.exitCode == "1:0", "\(table)")
        expectNamed(report, "address", on: "n2", "no interface ib0 on n2")
        #expect(table.contains("interface ib0 on n3 is down"), "\(table)")
        expectNamed(report, "address", on: "n3", "interface ib0 on n3 is down")
        expectNamed(report, "address", on: "n1", "192.168.213.11 on ib0", verdict: .pass)
        record("--interface ib0, missing on n2 and down on n3", "FAIL address on n2 (no interface ib0) and n3 (down), with the interfaces there", job)
    }

    @Test func aPortOfTheBlockTakenOnTheHeadIsNamed() throws {
        let (job, report, table) = try doctor([]) { id in
            let port = RayPorts.block(jobID: String(id)).dashboard
            let holder = "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('10.213.77.11', \(port))); s.listen(); time.sleep(40); 'sd-doctor-holder'"
            _ = try VirtualCluster.exec("n1", ["sh", "-c", "timeout 40 python3 -c \"\(holder)\" >/dev/null 2>&1 & sleep 0.5"])
        }
        defer { _ = try? VirtualCluster.exec("n1", ["pkill", "-f", "sd-doctor-holder"]) }
        #expect(job.state == "COMPLETED", "a taken port is a warning: bootstrap moves to the next block: \(table)")
        let port = report.findings.first { $0.check == "ports" }
        #expect(port?.node == "n1" && port?.verdict == .warn && port?.detail.contains("in use on n1") == true, "\(table)")
        record("a port of the job's block held on the head", "WARN ports on n1 naming the port (bootstrap moves to the next block)", job)
    }

    @Test func aWorkingDirThatIsNotSharedIsNamed() throws {
        let folder = try temporaryDirectory()
        let work = folder.appending(path: "work").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        _ = try VirtualCluster.exec("n3", ["mount", "-t", "tmpfs", "tmpfs", work])
        defer { _ = try? VirtualCluster.exec("n3", ["umount", work]) }
        let (job, report, table) = try doctor(["--working-dir", work], in: folder)
        #expect(job.exitCode == "1:0", "\(table)")
        expectNamed(report, "shared", on: "n3", "working dir \(work) is not the one the batch node sees")
        expectNamed(report, "shared", on: "n2", "working dir \(work)", verdict: .pass)
        record("a working dir that is a private tmpfs on n3", "FAIL shared on n3 only", job)
    }

    @Test func aVenvMissingOnOneNodeIsNamed() throws {
        _ = try VirtualCluster.exec("n2", ["mount", "-t", "tmpfs", "tmpfs", Self.venv])
        defer { _ = try? VirtualCluster.exec("n2", ["umount", Self.venv]) }
        let (job, report, table) = try doctor([])
        #expect(job.exitCode == "1:0", "\(table)")
        expectNamed(report, "ray", on: "n2", "no \(Self.venv)/bin/ray on n2")
        expectNamed(report, "ray", on: "n1", "Ray 2.60.0", verdict: .pass)
        record("the venv missing on n2", "FAIL ray on n2 (and the venv not shared)", job)
    }

    @Test func aRayWithoutTokenAuthenticationIsNamed() throws {
        let (job, report, table) = try doctor(["--ray", PackagePaths.root.appending(path: ".venv-ray-2.44.1/bin/ray").path])
        #expect(job.exitCode == "1:0", "\(table)")
        for node in ["n1", "n2", "n3"] { expectNamed(report, "ray", on: node, "Ray 2.44.1") }
        #expect(report.findings.first { $0.check == "ray" }?.detail.contains("has no token authentication") == true)
        record("Ray 2.44 in the venv", "FAIL ray on every node: no token authentication", job)
    }

    @Test func aSharedMemorySmallerThanTheObjectStoreIsNamed() throws {
        let (job, report, table) = try doctor(["--object-store-memory", "100T"])
        #expect(job.exitCode == "1:0", "\(table)")
        expectNamed(report, "shm", on: "n2", "less than the object store's 100.0 TiB")
        record("--object-store-memory larger than /dev/shm", "FAIL shm on every node", job)
    }

    @Test func aGrantedGPUWithoutItsDeviceFileIsNamed() throws {
        let devices = "/run/slurm-distil-vcluster/dev"
        _ = try VirtualCluster.exec("n2", ["mount", "-t", "tmpfs", "tmpfs", devices])
        defer { _ = try? VirtualCluster.exec("n2", ["umount", devices]) }
        let (job, report, table) = try doctor([])
        #expect(job.exitCode == "1:0", "\(table)")
        expectNamed(report, "gpus", on: "n2", "device file missing: \(devices)/nvidia")
        expectNamed(report, "gpus", on: "n1", "1 granted, 1 visible", verdict: .pass)
        record("a granted GPU whose device file is missing on n2", "FAIL gpus on n2 naming the file", job)
    }

    @Test func bootstrapPreflightStopsBeforeRay() throws {
        let folder = try temporaryDirectory()
        let script = "\(PackagePaths.binary) bootstrap --preflight --ray \(Self.venv)/bin/ray --object-store-memory 100T -- python -c 'print(1)'"
        let submitted = try VirtualCluster.exec("ctl", ["sbatch", "--parsable", "-N", "2", "-o", "out.txt", "--wrap", script], in: folder)
        let job = try VirtualCluster.waitForEnd(Int(submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1, timeout: 120)
        let text = (try? String(contentsOf: folder.appending(path: "out.txt"), encoding: .utf8)) ?? ""
        #expect(job.exitCode == "3:0", "\(text)")
        #expect(text.contains("preflight: 2 check(s) failed (shm on n1, shm on n2); Ray was not started"), "\(text)")
        #expect(!text.contains("starting Ray"))
        record("bootstrap --preflight with an object store larger than /dev/shm", "stops before any Ray starts, naming the checks and nodes", job)
    }
}
