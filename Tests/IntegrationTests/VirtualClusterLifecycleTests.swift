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
            let nodes = try VirtualCluster.exec("ctl", ["sinfo", "-h", "-N", "-o", "%N %t"])
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
}
