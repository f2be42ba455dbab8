import Foundation
import Testing

@testable import SlurmDistil

/// A small deterministic generator, so that a failing case can be replayed from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Property tests for the parsers that take user input: generated well-formed inputs must parse to
/// what a simple model says, and arbitrary text must be refused with a Failure, never crash.
/// Bounded in count and in time (a second per property), with a seed that changes per run and is
/// printed when a case fails.
@Suite struct ParserPropertyTests {
    static let seed = UInt64(Date().timeIntervalSince1970)
    static let budget: TimeInterval = 1

    func forAll(_ name: String, cases: Int = 2_000, _ body: (inout SplitMix64) throws -> Void) rethrows {
        var generator = SplitMix64(state: Self.seed)
        let deadline = Date().addingTimeInterval(Self.budget)
        for _ in 0..<cases where Date() < deadline {
            try body(&generator)
        }
    }

    @Test func timeLimitsRoundTripThroughEverySlurmForm() throws {
        try forAll("time") { random in
            let days = Int.random(in: 0...30, using: &random)
            let hours = Int.random(in: 0...23, using: &random)
            let minutes = Int.random(in: 0...59, using: &random)
            let seconds = Int.random(in: 0...59, using: &random)
            let forms: [(String, Int)] = [
                ("\(days)-\(hours):\(minutes):\(seconds)", ((days * 24 + hours) * 60 + minutes) * 60 + seconds),
                ("\(days)-\(hours):\(minutes)", ((days * 24 + hours) * 60 + minutes) * 60),
                ("\(days)-\(hours)", (days * 24 + hours) * 3600),
                ("\(hours):\(minutes):\(seconds)", (hours * 60 + minutes) * 60 + seconds),
                ("\(minutes):\(seconds)", minutes * 60 + seconds),
                ("\(minutes)", minutes * 60),
            ]
            for (text, total) in forms where total > 0 {
                let parsed = try SlurmTime(parsing: text)
                let canonical = try SlurmTime(parsing: parsed.description)
                #expect(parsed.seconds == total, "seed \(Self.seed): \(text)")
                #expect(canonical.seconds == total, "seed \(Self.seed): canonical \(parsed)")
            }
        }
    }

    @Test func wellFormedHostListsExpandAsTheModelSays() throws {
        try forAll("hostlist", cases: 500) { random in
            var list: [String] = []
            var expected: [String] = []
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let prefix = "n" + String((0..<Int.random(in: 0...3, using: &random)).map { _ in "abcxyz".randomElement(using: &random)! })
                if Bool.random(using: &random) {
                    list.append(prefix)
                    expected.append(prefix)
                    continue
                }
                let width = Int.random(in: 1...3, using: &random)
                var groups: [String] = []
                for _ in 0..<Int.random(in: 1...3, using: &random) {
                    let low = Int.random(in: 0...20, using: &random)
                    let high = low + Int.random(in: 0...4, using: &random)
                    let pad = { (value: Int) in String(repeating: "0", count: max(0, width - String(value).count)) + String(value) }
                    groups.append(low == high ? pad(low) : "\(pad(low))-\(pad(high))")
                    expected += (low...high).map { prefix + pad($0) }
                }
                list.append("\(prefix)[\(groups.joined(separator: ","))]")
            }
            let text = list.joined(separator: ",")
            let expanded = try HostList.expand(text)
            #expect(expanded == expected, "seed \(Self.seed): \(text)")
        }
    }

    @Test func arbitraryTextIsRefusedCleanly() {
        let alphabet = Array("n[]-,0123456789 :abc\n\t$'\"{}#=UNLIMITED")
        forAll("garbage", cases: 3_000) { random in
            let text = String((0..<Int.random(in: 0...24, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
            switch Result(catching: { () throws(Failure) in try HostList.expand(text) }) {
            case .success(let hosts):
                #expect(hosts.allSatisfy { !$0.contains("[") && !$0.contains("]") && !$0.isEmpty }, "seed \(Self.seed): \(text.debugDescription) -> \(hosts)")
            case .failure(let failure):
                #expect(failure.kind == .usage, "seed \(Self.seed): \(text.debugDescription)")
            }
            let others: [Result<Void, Failure>] = [
                Result { () throws(Failure) in _ = try SlurmTime(parsing: text) },
                Result { () throws(Failure) in _ = try RuntimeEnvironment.parse(yaml: text, path: "r.yaml", environment: [:]) },
                Result { () throws(Failure) in _ = try Profile.parse(text, path: "p.yaml") },
            ]
            for case .failure(let failure) in others {
                #expect(failure.kind == .usage, "seed \(Self.seed): \(text.debugDescription)")
            }
        }
    }
}
