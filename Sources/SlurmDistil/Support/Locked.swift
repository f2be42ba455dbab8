import Synchronization

/// A value shared between threads (curl callbacks, signal handlers, tasks), behind a `Mutex`: a
/// reference, so that closures and threads can share one.
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    public init(_ value: Value) {
        mutex = Mutex(value)
    }

    public var value: Value {
        get { mutex.withLock { $0 } }
        set { mutex.withLock { $0 = newValue } }
    }

    public func withLock<Result: Sendable>(_ body: (inout Value) -> Result) -> Result {
        mutex.withLock { body(&$0) }
    }
}

extension Locked where Value == Bool {
    /// Sets the flag and says whether it was set already: of two racing stoppers, only the first acts.
    public func testAndSet() -> Bool {
        withLock { value in
            defer { value = true }
            return value
        }
    }
}
