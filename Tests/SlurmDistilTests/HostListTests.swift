import Testing

@testable import SlurmDistil
import TestSupport

/// Expansion runs through the real libslurm; the same lists are compared with `scontrol show hostnames`
/// in the integration tests.
@Suite struct HostListTests {
    @Test(arguments: [
        ("n[1-3]", ["n1", "n2", "n3"]),
        ("n[01-03]", ["n01", "n02", "n03"]),
        ("a[1-2]b[3-4]", ["a1b3", "a1b4", "a2b3", "a2b4"]),
        ("n[1,3-4],m5", ["n1", "n3", "n4", "m5"]),
        ("n1,n1,n2", ["n1", "n1", "n2"]),
        ("n[9-11]", ["n9", "n10", "n11"]),
        ("n[099-101]", ["n099", "n100", "n101"]),
        ("gpu-node.ib0", ["gpu-node.ib0"]),
        ("n[1-2], m1", ["n1", "n2", "m1"]),
        ("n[5-5]", ["n5"]),
    ])
    func expandsThroughLibslurm(list: String, hosts: [String]) throws {
        #expect(try HostList.expand(list) == hosts)
    }

    @Test(arguments: [
        ("n[1-", "never closed"), ("n[1-2", "never closed"), ("n1-2]", "no matching '['"), ("n[3-1]", "runs backwards"),
        ("n[a-b]", "other than numbers"), ("n[[1-2]]", "other than numbers"), ("n[]", "other than numbers"),
        ("n[1-2]x", "text follows"), ("n[1-2]-ib", "text follows"), ("n[1--2]", "other than numbers"),
        ("n[1,,2]", "other than numbers"), ("", "empty"), (" , ", "empty"), ("n$1", "not allowed"), ("n[1-2]][", "no matching"),
        ("n[1-999999]", "at most 65536 in one range"), ("n[0-65536]", "names 65537 hosts"), ("a[1-1000]b[1-1000]", "more than 100000"),
        ("n[1-60000,60001-120000]", "more than 100000"),
    ])
    func refusesWhatSlurmRejectsAndWhatLibslurmGetsWrong(list: String, fragment: String) {
        expectFailure(.usage, containing: fragment) { _ = try HostList.expand(list) }
    }

    @Test func theLongestRangeLibslurmTakesIsExpanded() throws {
        #expect(try HostList.expand("n[1-\(HostList.maximumRange)]").count == HostList.maximumRange)
    }

    @Test func compactsLikeSlurm() {
        #expect(HostList.compact(["n1", "n2", "n3", "n7"]) == "n[1-3,7]")
        #expect(HostList.compact(["gpu01", "gpu02"]) == "gpu[01-02]")
        #expect(HostList.compact([]) == "")
    }
}
