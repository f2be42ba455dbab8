import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Writes to a file descriptor and never crashes. Foundation's `FileHandle.write(_:)` traps when a
/// write fails; a late chunk of pipeline output arriving after pipeline.log was closed once turned a
/// clean stop at the time limit into a crash of the batch job.
public final class OutputFile: Sendable {
    public static let standardOutput = OutputFile(descriptor: STDOUT_FILENO, owned: false)
    public static let standardError = OutputFile(descriptor: STDERR_FILENO, owned: false)

    /// -1 once closed or after a write failed: later writes are dropped.
    private let descriptor: Locked<Int32>
    private let owned: Bool

    init(descriptor: Int32, owned: Bool) {
        self.descriptor = Locked(descriptor)
        self.owned = owned
    }

    /// A new (or emptied) file, private to its owner unless `permissions` say otherwise.
    public static func create(atPath path: String, permissions: mode_t = 0o600) -> OutputFile? {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, permissions)
        return descriptor < 0 ? nil : OutputFile(descriptor: descriptor, owned: true)
    }

    public func write(_ text: String) {
        write(Data(text.utf8))
    }

    public func write(_ data: Data) {
        guard !data.isEmpty else { return }
        descriptor.withLock { descriptor in
            guard descriptor >= 0 else { return }
            let failed = data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> Bool in
                var offset = 0
                while offset < buffer.count {
                    let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return true
                    }
                    offset += written
                }
                return false
            }
            if failed {
                if owned { Glibc.close(descriptor) }
                descriptor = -1
            }
        }
    }

    public func close() {
        descriptor.withLock { descriptor in
            if owned, descriptor >= 0 { Glibc.close(descriptor) }
            descriptor = -1
        }
    }

    deinit {
        close()
    }
}
