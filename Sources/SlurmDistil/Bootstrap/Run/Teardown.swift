#if canImport(Glibc)
    import Glibc
#endif

/// One step of stopping processes, as swift-subprocess's TeardownStep: send a signal and allow this
/// long before the next step; a sequence always ends with SIGKILL.
public struct TeardownStep: Sendable, Equatable {
    public var signal: Int32
    public var allowedSeconds: Double

    public static func send(_ signal: Int32, allowedSeconds: Double) -> TeardownStep {
        TeardownStep(signal: signal, allowedSeconds: allowedSeconds)
    }

    /// How bootstrap ends its steps: srun forwards SIGUSR1 to every node's agent, which stops its own
    /// Ray tree (SIGTERM to srun would make it kill the step's tasks outright).
    public static let bootstrapSteps: [TeardownStep] = [.send(SIGUSR1, allowedSeconds: 20)]
}

/// Runs a teardown sequence over several steps at once: one grace period for all, not one each.
/// swift-subprocess's teardown works on one process it started through its own API; bootstrap's
/// steps are srun processes that outlive the phase that started them, so this drives the same
/// sequence over `RunningStep`s.
public enum Teardown {
    /// Returns the names of the steps that had to be killed.
    @discardableResult
    public static func run(_ steps: [any RunningStep], sequence: [TeardownStep], clock: any RunClock) async -> [String] {
        for step in sequence {
            let running = steps.filter { $0.exitStatus == nil }
            guard !running.isEmpty else { return [] }
            for process in running { process.send(step.signal) }
            let deadline = clock.now + step.allowedSeconds
            while steps.contains(where: { $0.exitStatus == nil }), clock.now < deadline {
                await clock.sleep(0.1)
            }
        }
        let survivors = steps.filter { $0.exitStatus == nil }
        for step in survivors {
            step.send(SIGKILL)
            _ = await step.exited()
        }
        return survivors.map(\.name)
    }
}
