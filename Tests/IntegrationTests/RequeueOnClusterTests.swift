import Foundation
import Testing
import TestSupport

@testable import SlurmDistil

/// Runs that outlive their allocation: a real preemption (partition "low" given way to "high"), a
/// pipeline longer than its --time, and a lost node. Each must end COMPLETED with every row exactly
/// once and fewer batches computed than twice the total; after a preemption or a time limit the next
/// attempt resumes (no batch computed twice), after a lost node it starts over.
@Suite(.serialized, .enabled(if: VirtualCluster.isUp)) struct RequeueOnClusterTests: BootstrapJobs {
    static var resumable: String { PackagePaths.fixtures.appending(path: "pipelines/resumable.py").path }
    static let rows = 200
    static let batchCount = rows / 10

    /// One batch the pipeline's slow step computed, as batches.jsonl has it.
    struct Batch: Decodable {
        var attempt: Int
        var t: Double
        var ids: [Int]
    }

    func batches(_ results: URL) -> [Batch] {
        let text = (try? String(contentsOf: results.appending(path: "batches.jsonl"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Batch.self, from: Data($0.utf8)) }
    }

    /// The ids of the final Distiset.
    func resultIDs(_ results: URL) throws -> [Int] {
        struct Result: Decodable { var ids: [Int] }
        return try JSONDecoder().decode(Result.self, from: Data(contentsOf: results.appending(path: "result.json"))).ids
    }

    /// PREEMPTED and REQUEUED are steps on the way: waits for the job's last end.
    func waitForFinalEnd(_ id: Int, timeout: Double) throws -> SlurmJob {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let job = try VirtualCluster.job(id)
            if ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"].contains(job.state) { return job }
            Thread.sleep(forTimeInterval: 1)
        }
        throw TestFailure("job \(id) did not end within \(Int(timeout)) s; state \((try? VirtualCluster.job(id).state) ?? "?")")
    }

    func waitForBatches(_ results: URL, atLeast count: Int, timeout: Double = 240) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while batches(results).count < count {
            guard Date() < deadline else { throw TestFailure("fewer than \(count) batches after \(Int(timeout)) s") }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    /// What every requeue test checks at the end; returns the figures for RELIABILITY.md.
    func expectResumedAndComplete(
        _ directory: URL, _ results: URL, _ id: Int, job: SlurmJob, resumed: Bool, minimumAttempts: Int = 2, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> (status: BootstrapStatus, computed: Int, duplicated: Int, lost: Int) {
        let text = output(directory, id)
        #expect(job.state == "COMPLETED" && job.exitCode == "0:0", "\(text)", sourceLocation: sourceLocation)
        let status = try record(directory, id)
        #expect(status.status == .succeeded && status.attempts.count >= minimumAttempts, "\(status.attempts)", sourceLocation: sourceLocation)
        #expect(status.attempts.dropLast().allSatisfy { $0.status == .requeued && $0.requeueReason != nil }, "\(status.attempts)", sourceLocation: sourceLocation)
        let ids = try resultIDs(results)
        let expected = Array(0..<Self.rows)
        let lost = Set(expected).subtracting(ids).count
        let duplicated = ids.count - Set(ids).count
        #expect(lost == 0 && duplicated == 0 && ids == expected, "every row exactly once", sourceLocation: sourceLocation)
        let computed = batches(results)
        #expect(computed.count < 2 * Self.batchCount, "resumed, not restarted: \(computed.count) batches for \(Self.batchCount)", sourceLocation: sourceLocation)
        #expect(Set(computed.map(\.attempt)).count >= 2, "batches were computed in more than one attempt", sourceLocation: sourceLocation)
        // Each attempt's own logs: the earlier ones moved into attempt-N/.
        for attempt in status.attempts.dropLast() {
            #expect(!jobFile(directory, id, "attempt-\(attempt.number)/pipeline.log").isEmpty, "attempt \(attempt.number) kept its log", sourceLocation: sourceLocation)
        }
        #expect(text.contains("attempt \(status.attempts.count) of job \(id)"), "the batch output was appended to, not overwritten", sourceLocation: sourceLocation)
        #expect(text.contains("started attempt 1 "), "attempt 1's output is still in the batch output", sourceLocation: sourceLocation)
        let computedIDs = computed.flatMap(\.ids)
        let computedTwice = computedIDs.count - Set(computedIDs).count
        if resumed {
            #expect(computedTwice == 0, "resumed where the last attempt stopped: no row computed twice", sourceLocation: sourceLocation)
            #expect(text.contains("so that it resumes") || text.contains("resumes as it is"), "the cache was repaired and used", sourceLocation: sourceLocation)
        } else {
            #expect(text.contains("distilabel cache set aside"), "started over from a cache that is not trusted", sourceLocation: sourceLocation)
        }
        return (status, computed.count, computedTwice, lost)
    }

    /// From the stop signal to the first batch computed by the next attempt.
    func secondsLost(_ results: URL, signalledAt: Date) -> Double? {
        guard let resumed = batches(results).first(where: { $0.attempt >= 2 }) else { return nil }
        return (resumed.t - signalledAt.timeIntervalSince1970).rounded()
    }

    @Test func aPreemptedRunIsRequeuedAndResumes() throws {
        let directory = try temporaryDirectory()
        let results = directory.appending(path: "out")
        let generated = try generate([Self.resumable, results.path, String(Self.rows), "2"], nodes: 2, extra: ["-p", "low", "--requeue"])
        let id = try VirtualCluster.submit("job.sh", in: generated)
        try waitForBatches(results, atLeast: 5)
        // Whole nodes in the high partition: only a preemption of the low job frees them.
        let preemptedAt = Date()
        let high = try VirtualCluster.exec("ctl", ["sbatch", "--parsable", "-p", "high", "-N", "3", "--exclusive", "-o", "/dev/null", "--wrap", "sleep 10"], in: generated)
        #expect(high.status == 0, "\(high.stderr)")
        let job = try waitForFinalEnd(id, timeout: 480)
        let figures = try expectResumedAndComplete(generated, results, id, job: job, resumed: true)
        let first = try #require(figures.status.attempts.first)
        #expect(first.requeueReason == "preempted" && first.stoppedGracefully == true, "\(first)")
        #expect(output(generated, id).contains("preempted: stopping the pipeline gracefully"))
        try expectNothingLeft(id)
        let lost = secondsLost(results, signalledAt: preemptedAt)
        ReliabilityLog.record(.init(
            category: "fault", scenario: "preempted midway (PreemptMode=REQUEUE, GraceTime 60 s, a 3-node exclusive job in a higher partition)",
            behaviour: "stopped gracefully in \(first.stopSeconds.map { "\($0) s" } ?? "?"), requeued, resumed in attempt 2: \(figures.computed) batches computed for \(Self.batchCount), rows lost \(figures.lost), rows duplicated 0 in the result (\(figures.duplicated) computed twice); \(lost.map { "\(Int($0)) s" } ?? "?") from the preemption to resumed output (the preempting job ran 10 s of it)",
            exitCode: "\(ExitKind.describe(figures.status.exitCode)) (Slurm \(job.state) \(job.exitCode))", detectSeconds: nil, cleanupSeconds: nil))
    }

    @Test func aPipelineLongerThanItsTimeLimitCompletesOverSeveralAttempts() throws {
        let directory = try temporaryDirectory()
        let results = directory.appending(path: "out")
        // 20 batches of 4 s need more than the first attempt leaves: 3 minutes, the stop signal 100 s before.
        let generated = try generate([Self.resumable, results.path, String(Self.rows), "4"], nodes: 2, time: "3", extra: ["--signal-lead", "100", "--max-restarts", "3"])
        let id = try VirtualCluster.submit("job.sh", in: generated)
        let job = try waitForFinalEnd(id, timeout: 900)
        let figures = try expectResumedAndComplete(generated, results, id, job: job, resumed: true)
        let first = try #require(figures.status.attempts.first)
        #expect(first.requeueReason == "time limit" && first.stoppedGracefully == true, "\(first)")
        let signalledAt = first.endedAt.map { Date(timeIntervalSince1970: $0 - (first.stopSeconds ?? 0)) }
        try expectNothingLeft(id)
        let lost = signalledAt.flatMap { secondsLost(results, signalledAt: $0) }
        ReliabilityLog.record(.init(
            category: "fault", scenario: "a pipeline longer than its --time (`--time 3 --signal-lead 100 --max-restarts 3`)",
            behaviour: "\(figures.status.attempts.count) attempts, each stopped gracefully at the signal and requeued by bootstrap: \(figures.computed) batches computed for \(Self.batchCount), rows lost \(figures.lost), rows duplicated 0 in the result (\(figures.duplicated) computed twice); \(lost.map { "\(Int($0)) s" } ?? "?") from the stop signal to resumed output",
            exitCode: "\(ExitKind.describe(figures.status.exitCode)) (Slurm \(job.state) \(job.exitCode))", detectSeconds: nil, cleanupSeconds: nil))
    }

    @Test func aLostWorkerIsExcludedAndTheRunCompletesWithoutIt() throws {
        let directory = try temporaryDirectory()
        let results = directory.appending(path: "out")
        let generated = try generate(
            [Self.resumable, results.path, String(Self.rows), "2"], nodes: 2, extra: ["--max-restarts", "1", "--on-node-loss", "requeue"])
        let id = try VirtualCluster.submit("job.sh", in: generated)
        try waitForBatches(results, atLeast: 5)
        let running = try record(generated, id)
        let worker = try #require(running.nodes.first { $0 != running.head })
        let victim = try #require(try processOfJob(id, on: worker, matching: "raylet/raylet"), "no raylet of job \(id) on \(worker)")
        let killedAt = Date()
        _ = try runProcess("/bin/kill", ["-KILL", String(victim)])
        let job = try waitForFinalEnd(id, timeout: 480)
        let figures = try expectResumedAndComplete(generated, results, id, job: job, resumed: false)
        let first = try #require(figures.status.attempts.first)
        #expect(first.requeueReason == "node lost: \(worker)" && first.resumable == false, "\(first)")
        let last = try #require(figures.status.attempts.last)
        #expect(!last.nodes.contains(worker), "the next attempt ran without the lost node: \(last.nodes)")
        try expectNothingLeft(id)
        let lost = secondsLost(results, signalledAt: killedAt)
        ReliabilityLog.record(.init(
            category: "fault", scenario: "a worker's raylet killed (SIGKILL) mid-pipeline with `--on-node-loss requeue --max-restarts 1`",
            behaviour: "pipeline stopped, its cache set aside (a batch in flight on a lost node is counted as taken but never came out: resuming lost its 10 rows, measured), \(worker) excluded, requeued, completed on \(last.nodes.joined(separator: ",")): \(figures.computed) batches computed for \(Self.batchCount), rows lost \(figures.lost), rows duplicated 0 in the result; \(lost.map { "\(Int($0)) s" } ?? "?") from the kill to resumed output",
            exitCode: "\(ExitKind.describe(figures.status.exitCode)) (Slurm \(job.state) \(job.exitCode))", detectSeconds: nil, cleanupSeconds: nil))
    }
}
