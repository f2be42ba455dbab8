import Foundation
import Synchronization

/// Following a job: its output as raw bytes while its status is polled, across Ray's stream cutoffs.
extension RayJobsClient {
    /// Streams the driver's output bytes from `node` as Ray writes them, until `until` says so.
    func streamLogs(
        _ id: String, node: String, lines: Int, onChunk: @escaping @Sendable (Data) -> StreamDecision,
        until: @escaping @Sendable () -> Bool
    ) async throws(Failure) -> Int {
        var headers: [String: String] = [:]
        if let token { headers["Authorization"] = "Bearer \(token.value)" }
        let path = "/api/v0/logs/stream?node_id=\(node)&submission_id=\(try Self.pathComponent(id))&lines=\(lines)&interval=0.5"
        let request = HTTPRequest(.get, address + path, headers: headers, timeout: nil)
        return try await transport.stream(request, onChunk: onChunk, until: until)
    }

    /// Follows job `id` to its end: its output goes to `output` as raw bytes, progress to `progress`.
    /// Returns the final record; a cluster that stops answering for `lostAfter` seconds is reported lost.
    public func follow(
        _ id: String, pollInterval: Double = 0.5, lostAfter: Double = 30, output: @escaping @Sendable (Data) -> Void,
        progress: @escaping @Sendable (String) -> Void
    ) async throws(Failure) -> RayJobInfo {
        var info = try await job(id)
        var announced = false
        while info.driverNodeID == nil, !info.status.isTerminal {
            if !announced {
                progress("job \(id) is \(info.status.rawValue.lowercased()); waiting for it to start")
                announced = true
            }
            try await pause(pollInterval)
            info = try await job(id)
        }
        let received = LockedData(keep: false)
        let finished = Locked(false)
        // However this ends (also cancelled or lost), the stream closes once it has gone quiet.
        defer { finished.value = true }
        // Ray's dashboard ends a log stream after a while (seen here at 5 minutes) even though the job
        // goes on: reconnect, and skip the bytes already delivered (the stream restarts at the top).
        let stream: Task<Result<Int, Failure>, Never>? = info.driverNodeID.map { node in
            Task {
                var outcome: Result<Int, Failure> = .failure(Failure(.runtime, "no stream"))
                while true {
                    let skip = Locked(received.count)
                    do throws(Failure) {
                        outcome = .success(
                            try await streamLogs(id, node: node, lines: -1) { chunk in
                                let fresh = chunk.dropFirst(skip.withLock { remaining in
                                    let taken = min(remaining, chunk.count)
                                    remaining -= taken
                                    return taken
                                })
                                if !fresh.isEmpty {
                                    received.append(Data(fresh))
                                    output(Data(fresh))
                                }
                                return .proceed
                            } until: { finished.value && received.idleFor(seconds: 1.0) })
                    } catch {
                        outcome = .failure(error)
                    }
                    // A Ray whose dashboard cannot stream (2.52 with token auth answers 500: its own call
                    // to the node's agent is refused as UNAUTHENTICATED) is followed through the job's
                    // whole log instead, polled.
                    if case .success(let status) = outcome, status != 200 {
                        await pollLogs(id, received: received, output: output, until: { finished.value })
                        return outcome
                    }
                    if finished.value || Task.isCancelled { return outcome }
                    try? await Task.sleep(nanoseconds: 500_000_000)
                }
            }
        }
        var lastAnswer = Date()
        while !info.status.isTerminal {
            try await pause(pollInterval)
            do {
                info = try await job(id)
                lastAnswer = Date()
            } catch where error.kind == .connection {
                if Date().timeIntervalSince(lastAnswer) > lostAfter {
                    finished.value = true
                    _ = await stream?.value
                    throw Failure(
                        .connection, "lost job \(id): Ray at \(address) has not answered for \(Int(lostAfter)) s (\(error.message))",
                        hint: "the Ray cluster may be gone (head node failed, allocation ended); its last status was \(info.status.rawValue)")
                }
            }
        }
        finished.value = true
        let streamed = await stream?.value
        let streamWorked = if case .success(200) = streamed { true } else { false }
        if received.count == 0, !streamWorked {
            // The stream never delivered (e.g. the driver's node is gone): print what the job record kept.
            if let whole = try? await logs(id) { output(whole) }
        }
        return info
    }

    /// Delivers what the job's whole log holds beyond the bytes already delivered, every second, and
    /// once more after `until` says the job has ended.
    private func pollLogs(_ id: String, received: LockedData, output: @Sendable (Data) -> Void, until: @Sendable () -> Bool) async {
        while true {
            let done = until()
            if let whole = try? await logs(id), whole.count > received.count {
                let fresh = whole.dropFirst(received.count)
                received.append(Data(fresh))
                output(Data(fresh))
            }
            if done || Task.isCancelled { return }
            try? await Task.sleep(nanoseconds: 1_000_000_000)
        }
    }

    private func pause(_ seconds: Double) async throws(Failure) {
        do {
            try await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
        } catch {
            throw Failure(.runtime, "interrupted")
        }
    }
}

/// Bytes received by a stream callback, with the time of the last chunk.
final class LockedData: Sendable {
    private struct State {
        var storage = Data()
        var total = 0
        var last = Date()
    }

    private let state = Mutex(State())
    private let keep: Bool

    init(keep: Bool = true) { self.keep = keep }

    func append(_ chunk: Data) {
        state.withLock { state in
            if keep { state.storage.append(chunk) }
            state.total += chunk.count
            state.last = Date()
        }
    }

    var data: Data { state.withLock { $0.storage } }
    var count: Int { state.withLock { $0.total } }
    func idleFor(seconds: Double) -> Bool { state.withLock { Date().timeIntervalSince($0.last) >= seconds } }
}
