import Foundation
import Testing
import TestSupport

@testable import SlurmDistil

/// HostList (libslurm, after our own check) against `scontrol show hostnames` on the real cluster.
@Suite(.enabled(if: VirtualCluster.isUp)) struct HostListOnClusterTests {
    static let wellFormed = [
        "n1", "n[1-3]", "n[01-03]", "n[001-012]", "n[9-11]", "n[099-101]", "a[1-2]b[3-4]", "rack[1-2]node[01-02]",
        "n[1,3-4],m5", "n[1-2],n[2-3]", "n1,n1,n2", "gpu-a100.ib0", "n[1-2] m[3-4]", "n[0-0]", "x[10-12],y,z[1,5,7-8]",
        "n[01-3]", "n[1-03]",
    ]
    static let rejectedBySlurm = ["n[3-1]", "n[a-b]", "n[[1-2]]", "n[]", "n[1-2]x", "n[1-2]-ib", "n[1--2]", "n[-2]", "n[1,,2]"]
    /// Lists that libslurm and scontrol accept but turn into names no allocation has.
    static let garbledBySlurm = ["n[1-", "n[1-2", "n1-2]", "n[1-2]]["]

    func scontrol(_ list: String) throws -> (ok: Bool, hosts: [String]) {
        let result = try VirtualCluster.exec("ctl", ["scontrol", "show", "hostnames", list])
        let said = result.stdout + result.stderr
        let ok = result.status == 0 && !said.contains("Invalid hostlist") && !said.contains("error")
        return (ok, result.stdout.split(separator: "\n").map(String.init))
    }

    @Test(arguments: wellFormed)
    func agreesWithScontrol(list: String) throws {
        let slurm = try scontrol(list)
        #expect(slurm.ok)
        #expect(try HostList.expand(list) == slurm.hosts)
    }

    @Test(arguments: rejectedBySlurm)
    func rejectsWhatSlurmRejects(list: String) throws {
        #expect(try scontrol(list).ok == false)
        #expect(throws: Failure.self) { try HostList.expand(list) }
    }

    @Test(arguments: garbledBySlurm)
    func rejectsWhatSlurmGarbles(list: String) throws {
        let slurm = try scontrol(list)
        #expect(slurm.ok && slurm.hosts.contains { $0.contains("]") || $0.contains("[") || $0.hasSuffix("-") } || !slurm.ok)
        #expect(throws: Failure.self) { try HostList.expand(list) }
    }
}
