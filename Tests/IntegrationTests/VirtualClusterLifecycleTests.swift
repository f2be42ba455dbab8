import Foundation
import Testing
import TestSupport

/// Brings the virtual cluster up and down twice and checks that nothing is left behind.
/// Runs alone, before the shared cluster of the other integration tests exists (scripts/test).
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["VCLUSTER_LIFECYCLE_TEST"] == "1"))
struct VirtualClusterLifecycleTests {
    @Test func upAndDownTwiceLeavesNothing() throws {
        for round in 1...2 {
            let up = try VirtualCluster.run(["up", "--nodes", "2"])
            #expect(up.status == 0, "round \(round): \(up.stderr)")
            let nodes = try VirtualCluster.exec("ctl", ["sinfo", "-h", "-N", "-p", "debug", "-o", "%N %t"])
            #expect(nodes.stdout == "n1 idle\nn2 idle\n", "round \(round)")
            let down = try VirtualCluster.run(["down"])
            #expect(down.status == 0, "round \(round): \(down.stderr)")
            #expect(try VirtualCluster.leftovers() == [], "round \(round)")
        }
    }

    /// A cluster whose session died leaves daemons and namespaces; `up` must still work and `down` clean it all.
    @Test func recoversFromAClusterLeftHalfway() throws {
        #expect(try VirtualCluster.run(["up", "--nodes", "2"]).status == 0)
        // Simulate a crash: the state folder is lost while daemons and namespaces live on.
        _ = try runProcess("/bin/sh", ["-c", "cp -a /run/slurm-distil-vcluster /tmp/sdv-crash && rm -rf /run/slurm-distil-vcluster/run"])
        let again = try VirtualCluster.run(["up", "--nodes", "2"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try VirtualCluster.run(["down"]).status == 0)
        // The daemons of the first cluster lived in namespaces that down removed; none may survive.
        #expect(try VirtualCluster.leftovers() == [])
        _ = try runProcess("/bin/rm", ["-rf", "/tmp/sdv-crash"])
    }

    /// Slurm 24.11 from the Debian 13 root filesystem: its daemons and clients, and after a crash
    /// neither their mounts nor anything else is left.
    @Test func slurm24_11FromItsRootFilesystem() throws {
        let up = try VirtualCluster.run(["up", "--nodes", "2", "--slurm", "24.11"])
        #expect(up.status == 0, "\(up.stderr)")
        #expect(try VirtualCluster.exec("ctl", ["scontrol", "--version"]).stdout == "slurm-wlm 24.11.5\n")
        #expect(try VirtualCluster.exec("ctl", ["sinfo", "-h", "-N", "-p", "debug", "-o", "%N %t %v"]).stdout == "n1 idle 24.11.5\nn2 idle 24.11.5\n")
        _ = try runProcess("/bin/sh", ["-c", "rm -rf /run/slurm-distil-vcluster/run"])
        let again = try VirtualCluster.run(["up", "--nodes", "2", "--slurm", "24.11"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try VirtualCluster.run(["down"]).status == 0)
        #expect(try VirtualCluster.leftovers() == [])
        #expect(try VirtualCluster.run(["down"]).status == 0, "down twice")
    }
}
