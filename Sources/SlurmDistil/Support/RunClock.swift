/// Time as the run's waits and watchdogs see it: seconds that only move forward, and sleeping.
/// Tests pass a clock that jumps, so that a 30-minute stall is checked in milliseconds.
public protocol RunClock: Sendable {
    /// Seconds since some fixed moment of this clock.
    var now: Double { get }
    /// Returns after `seconds`, or early when the task is cancelled.
    func sleep(_ seconds: Double) async
}

public struct SystemClock: RunClock {
    private let origin = ContinuousClock.now

    public init() {}

    public var now: Double {
        let elapsed = ContinuousClock.now - origin
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    public func sleep(_ seconds: Double) async {
        try? await Task.sleep(for: .seconds(seconds))
    }
}
