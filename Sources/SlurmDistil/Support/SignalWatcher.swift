import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The one way the tool reacts to signals. The signals are taken from their default actions for the
/// watcher's life and delivered to `handler` on a Dispatch queue, never in a signal context, so the
/// handler may lock, write and wait. `cancel()` stops delivery (the signals stay ignored).
public final class SignalWatcher: Sendable {
    private let sources: Mutex<[any DispatchSourceSignal]>

    public init(_ signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
        var created: [any DispatchSourceSignal] = []
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { handler(number) }
            source.resume()
            created.append(source)
        }
        sources = Mutex(created)
    }

    public func cancel() {
        sources.withLock { sources in
            for source in sources { source.cancel() }
            sources = []
        }
    }

    deinit {
        cancel()
    }
}
