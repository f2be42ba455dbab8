import Foundation

/// What the fault, bad-input and security tests observed, one JSON line per scenario, appended to the
/// file named by SLURM_DISTIL_RELIABILITY_LOG (scripts/test sets it). scripts/reliability-report turns
/// it into RELIABILITY.md, so the published figures are the suite's own.
public enum ReliabilityLog {
    public struct Entry: Codable, Sendable {
        public var category: String
        public var scenario: String
        public var behaviour: String
        public var exitCode: String
        public var detectSeconds: Double?
        public var cleanupSeconds: Double?

        public init(category: String, scenario: String, behaviour: String, exitCode: String, detectSeconds: Double? = nil, cleanupSeconds: Double? = nil) {
            self.category = category
            self.scenario = scenario
            self.behaviour = behaviour
            self.exitCode = exitCode
            self.detectSeconds = detectSeconds.map { ($0 * 10).rounded() / 10 }
            self.cleanupSeconds = cleanupSeconds.map { ($0 * 10).rounded() / 10 }
        }
    }

    private static let lock = NSLock()

    public static func record(_ entry: Entry) {
        guard let path = ProcessInfo.processInfo.environment["SLURM_DISTIL_RELIABILITY_LOG"], !path.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var line = try? encoder.encode(entry) else { return }
        line.append(0x0A)
        lock.withLock {
            if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
            guard let handle = FileHandle(forWritingAtPath: path) else { return }
            defer { try? handle.close() }
            _ = try? handle.seekToEnd()
            try? handle.write(contentsOf: line)
        }
    }
}
