import Foundation

/// Hides secret values (HF_TOKEN and the like, the job's Ray token) in everything the tool prints or
/// writes to disk, the pipeline's own output included: a pipeline that prints its environment must
/// not put a token into a log file that the whole project group can read.
public struct SecretRedactor: Sendable {
    public static let mask = "***"
    /// Shorter values would mask ordinary words; tokens are far longer.
    public static let minimumLength = 6

    /// Sorted longest first, so that a secret containing another is masked whole.
    public let values: [[UInt8]]

    public init(_ values: some Sequence<String>) {
        let kept = Set(values.filter { $0.utf8.count >= Self.minimumLength })
        self.values = kept.map { Array($0.utf8) }.sorted { $0.count > $1.count }
    }

    /// Names whose values are secrets by convention (HF_TOKEN, WANDB_API_KEY, AWS_SECRET_ACCESS_KEY,
    /// DB_PASSWORD, ...).
    public static func looksSecret(_ name: String) -> Bool {
        let upper = name.uppercased()
        let words = ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "API_KEY", "APIKEY", "ACCESS_KEY", "PRIVATE_KEY"]
        return words.contains { upper.contains($0) } || upper.hasSuffix("_KEY") || upper == "KEY"
    }

    /// The values of the secret-looking variables of an environment.
    public static func secrets(in environment: [String: String]) -> [String] {
        environment.filter { looksSecret($0.key) }.map(\.value)
    }

    public var isEmpty: Bool { values.isEmpty }

    public func redact(_ text: String) -> String {
        guard !values.isEmpty else { return text }
        return String(decoding: redact(Array(text.utf8)), as: UTF8.self)
    }

    /// Works on bytes: a pipeline's output need not be UTF-8, and must pass through unchanged otherwise.
    public func redact(_ bytes: [UInt8]) -> [UInt8] {
        guard !values.isEmpty, !bytes.isEmpty else { return bytes }
        // Output runs to gigabytes: copy stretches that cannot start a secret in one go.
        var starts = [Bool](repeating: false, count: 256)
        for value in values { starts[Int(value[0])] = true }
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var copied = 0
        var index = 0
        while index < bytes.count {
            guard starts[Int(bytes[index])],
                let value = values.first(where: { index + $0.count <= bytes.count && bytes[index..<(index + $0.count)].elementsEqual($0) })
            else {
                index += 1
                continue
            }
            result += bytes[copied..<index]
            result += Self.maskBytes
            index += value.count
            copied = index
        }
        result += bytes[copied...]
        return result
    }

    static let maskBytes = Array(mask.utf8)
}

/// Redacts a byte stream that arrives in arbitrary chunks: a secret cut in two by a chunk boundary is
/// still found, because the unfinished last line is held back until its end arrives (or `finish`).
public final class RedactingStream: Sendable {
    private let redactor: SecretRedactor
    private let pending = Locked<[UInt8]>([])
    /// A line this long is let through in pieces: output without line breaks must still appear.
    static let longestHeldLine = 64 * 1024

    public init(_ redactor: SecretRedactor) {
        self.redactor = redactor
    }

    /// What can be written now.
    public func feed(_ chunk: Data) -> Data {
        guard !redactor.isEmpty else { return chunk }
        let ready: [UInt8] = pending.withLock { held in
            held += chunk
            // \r too: progress bars redraw one line without ever ending it.
            guard let end = held.lastIndex(where: { $0 == 0x0A || $0 == 0x0D }) ?? (held.count > Self.longestHeldLine ? held.count - 1 : nil) else {
                return []
            }
            let complete = Array(held[...end])
            held.removeFirst(end + 1)
            return complete
        }
        return Data(redactor.redact(ready))
    }

    /// Whatever is still held back, once the stream has ended.
    public func finish() -> Data {
        let rest = pending.withLock { held in
            defer { held = [] }
            return held
        }
        return Data(redactor.redact(rest))
    }
}
