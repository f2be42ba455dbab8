/// The limits a running pipeline is held to: pure, given the clock's readings.
public struct Watchdog: Sendable, Equatable {
    /// Stop a pipeline that prints nothing for this long (seconds), after saving its driver's stack.
    public var stallTimeout: Double?
    /// Stop a pipeline that runs longer than this (seconds).
    public var maxRuntime: Double?

    public enum Trip: Sendable, Equatable { case stalled, maxRuntime }

    public init(stallTimeout: Double? = nil, maxRuntime: Double? = nil) {
        self.stallTimeout = stallTimeout
        self.maxRuntime = maxRuntime
    }

    public func check(now: Double, lastOutput: Double, submittedAt: Double) -> Trip? {
        if let stallTimeout, now - lastOutput >= stallTimeout { return .stalled }
        if let maxRuntime, now - submittedAt > maxRuntime { return .maxRuntime }
        return nil
    }

    func failure(for trip: Trip, jobFolder: String) -> Failure {
        switch trip {
        case .stalled:
            Failure(
                .stalled, "the pipeline printed nothing for \(Int(stallTimeout ?? 0)) s (--stall-timeout); stopped it",
                hint: "its driver's stack is in \(jobFolder)/stall-stack.txt")
        case .maxRuntime:
            Failure(.maxRuntime, "the pipeline ran longer than \(Int(maxRuntime ?? 0)) s (--max-runtime); stopped it", hint: "raise --max-runtime if it needs longer")
        }
    }
}
