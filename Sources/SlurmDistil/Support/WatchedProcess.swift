import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A started child whose exit is awaited by a thread of its own from the start: the blocking waitpid
/// never holds a thread of Swift's cooperative pool, and anyone may ask, without blocking, whether it
/// has ended, or await its end.
public final class WatchedProcess: Sendable {
    public let pid: pid_t
    private let state = Mutex<(status: Int32?, waiters: [CheckedContinuation<Int32, Never>])>((nil, []))

    public init(_ child: ChildProcess) {
        pid = child.pid
        let thread = Thread { [self] in
            let status = child.wait()
            let waiters = state.withLock { state in
                state.status = status
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: status) }
        }
        thread.name = "slurm-distil-wait-\(child.pid)"
        thread.start()
    }

    /// The exit status (128 + N after signal N), or nil while it runs.
    public var exitStatus: Int32? { state.withLock { $0.status } }

    public func exited() async -> Int32 {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Int32? in
                if let status = state.status { return status }
                state.waiters.append(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }

    public func send(_ signal: Int32) {
        // After the exit was reaped the pid may belong to someone else.
        guard exitStatus == nil else { return }
        kill(pid, signal)
    }
}
