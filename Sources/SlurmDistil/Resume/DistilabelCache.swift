import Foundation

/// A distilabel 1.5.x pipeline cache (`$DISTILABEL_CACHE_DIR`) as a requeued attempt finds it, before it runs
/// the pipeline again with `use_cache=True`.
///
/// After a graceful stop (SIGINT) distilabel 1.5.3 records a used-up input batch as "batch s, all its rows
/// used", reloads it on resume as an empty batch in front of the step's buffer and waits forever
/// (argilla-io/distilabel#1065). `repair()` moves such offsets on to the next batch, as
/// research/distilabel-resume/fixup_cache.py does. After a hard kill the cache can hold torn files: `check()`
/// names them, and `setAside(to:)` moves the cache away so that the attempt starts from zero instead.
public struct DistilabelCache: Sendable {
    public let path: String
    let files: any FileSystem

    public init(path: String, files: any FileSystem) {
        self.path = path
        self.files = files
    }

    /// Why resuming from this cache would hang or fail: a `batch_manager.json` or `batch_manager_step.json`
    /// that is missing, empty or does not parse (what a SIGKILL in the middle of distilabel's in-place
    /// rewrite leaves). Empty when there is no cache yet, and when every file parses; after a hard kill that
    /// proves nothing (a batch lost in flight is still waited for): resume only after a graceful stop.
    public func check() -> [String] {
        scan().problems.map(\.message)
    }

    /// Moves every step's offset past a predecessor batch it has used up, in place; every other field
    /// of the files is kept. Idempotent. Each file changed is first copied once to `<file>.orig`.
    /// Throws the first problem `check()` would report, before anything is written.
    public func repair(dryRun: Bool = false) throws(Failure) -> DistilabelCacheRepair {
        let scanned = scan()
        if let problem = scanned.problems.first { throw problem }
        var changes: [DistilabelCacheRepair.OffsetChange] = []
        for stepFile in scanned.stepFiles {
            var stepOffset = stepFile.object["step_offset"] as? [String: Any] ?? [:]
            var changed = false
            for offset in stepFile.offsets where offset.nextExpectedSeqNo > offset.seqNo {
                let resumeAt = [offset.nextExpectedSeqNo, 0]
                stepOffset[offset.predecessor] = resumeAt
                changes.append(.init(
                    file: stepFile.path, step: stepFile.step, predecessor: offset.predecessor,
                    before: [offset.seqNo, offset.rowsUsed], after: resumeAt))
                changed = true
            }
            guard changed, !dryRun else { continue }
            var object = stepFile.object
            object["step_offset"] = stepOffset
            try write(object, over: stepFile)
        }
        return DistilabelCacheRepair(stepFilesRead: scanned.stepFiles.count, changes: changes, dryRun: dryRun)
    }

    /// Renames the whole cache folder to `destination` (kept for a post-mortem, not deleted), so that the
    /// next `use_cache=True` run finds no cache and starts from zero.
    public func setAside(to destination: String) throws(Failure) {
        guard files.fileExists(path) else {
            throw Failure(.runtime, "cannot set the distilabel cache \(path) aside: it does not exist", hint: "nothing to do: the next attempt starts from zero")
        }
        try files.move(path, to: destination)
    }

    // MARK: - Reading

    /// One `_BatchManagerStep` as distilabel dumped it, kept as the whole object graph so that writing it
    /// back loses no field (distilabel's own loader needs them all).
    struct StepFile {
        var path: String
        var step: String
        var text: String
        var object: [String: Any]
        var offsets: [PredecessorOffset]
    }

    /// `step_offset[predecessor] = [seqNo, rowsUsed]`: the last batch of the predecessor the step took rows
    /// from, and how many; `next_expected_seq_no[predecessor][0]`: the batch it waits for next.
    struct PredecessorOffset {
        var predecessor: String
        var seqNo: Int
        var rowsUsed: Int
        var nextExpectedSeqNo: Int
    }

    /// `*/*/executions/*/batch_manager.json` under the cache: pipeline name, pipeline signature, execution.
    func batchManagerFiles() -> [String] {
        var folders = [path]
        for component in ["*", "*", "executions", "*"] {
            folders = folders.flatMap { folder in
                guard component == "*" else { return [Self.join(folder, component)] }
                // Like Python's glob, which fixup_cache.py uses: hidden names do not match `*`.
                return files.directoryEntries(folder).filter { !$0.hasPrefix(".") }.sorted().map { Self.join(folder, $0) }
            }
        }
        return folders.map { Self.join($0, "batch_manager.json") }.filter { files.fileExists($0) }
    }

    func scan() -> (stepFiles: [StepFile], problems: [Failure]) {
        var stepFiles: [StepFile] = []
        var problems: [Failure] = []
        for batchManager in batchManagerFiles() {
            let steps: [String: String]
            do throws(Failure) {
                let (_, object) = try readJSON(batchManager)
                guard let named = object["steps"] as? [String: String] else {
                    throw unusable(batchManager, "has no \"steps\" object naming each step's batch_manager_step.json")
                }
                steps = named
            } catch {
                problems.append(error)
                continue
            }
            let executionFolder = Self.parent(of: batchManager)
            for (step, recordedPath) in steps.sorted(by: { $0.key < $1.key }) {
                // The recorded paths are absolute and outlive a moved cache; the file beside batch_manager.json
                // is the one that belongs to it.
                let local = Self.join(executionFolder, "batch_manager_steps/\(step)/batch_manager_step.json")
                let stepPath = files.fileExists(local) ? local : recordedPath
                do throws(Failure) {
                    guard files.fileExists(stepPath) else {
                        throw unusable(local, "is missing (step '\(step)' of \(batchManager); \(recordedPath) does not exist either)")
                    }
                    let (text, object) = try readJSON(stepPath)
                    stepFiles.append(StepFile(
                        path: stepPath, step: step, text: text, object: object, offsets: try offsets(in: object, of: stepPath)))
                } catch {
                    problems.append(error)
                }
            }
        }
        return (stepFiles, problems)
    }

    func readJSON(_ file: String) throws(Failure) -> (text: String, object: [String: Any]) {
        let text: String
        do throws(Failure) {
            text = try files.read(file)
        } catch {
            throw unusable(file, "cannot be read (\(error.message))")
        }
        if text.allSatisfy(\.isWhitespace) {
            throw unusable(file, "is empty")
        }
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else {
            throw unusable(file, "is not valid JSON (\(text.utf8.count) bytes, probably cut short)")
        }
        guard let object = parsed as? [String: Any] else {
            throw unusable(file, "is not a JSON object")
        }
        return (text, object)
    }

    /// Both fields as fixup_cache.py reads them: no `step_offset` means nothing to repair, a predecessor
    /// missing from `next_expected_seq_no` counts as batch 0.
    func offsets(in stepObject: [String: Any], of file: String) throws(Failure) -> [PredecessorOffset] {
        guard let stepOffset = stepObject["step_offset"] else { return [] }
        guard let stepOffset = stepOffset as? [String: Any] else {
            throw unusable(file, "has a \"step_offset\" that is not an object")
        }
        let nextExpected = stepObject["next_expected_seq_no"] as? [String: Any] ?? [:]
        return try stepOffset.keys.sorted().map { (predecessor) throws(Failure) in
            guard let pair = Self.integers(stepOffset[predecessor]), pair.count == 2 else {
                throw unusable(file, "has step_offset[\"\(predecessor)\"] that is not [batch, rows]")
            }
            var nextSeqNo = 0
            if let next = nextExpected[predecessor] {
                guard let first = Self.integers(next)?.first else {
                    throw unusable(file, "has next_expected_seq_no[\"\(predecessor)\"] that is not [batch, ...]")
                }
                nextSeqNo = first
            }
            return PredecessorOffset(predecessor: predecessor, seqNo: pair[0], rowsUsed: pair[1], nextExpectedSeqNo: nextSeqNo)
        }
    }

    func unusable(_ file: String, _ cause: String) -> Failure {
        Failure(
            .runtime, "distilabel cache file \(file) \(cause)",
            hint: "a hard kill (not a SIGINT stop) can leave it so; resuming from this cache would fail or hang: set \(path) aside and start from zero")
    }

    // MARK: - Writing

    func write(_ object: [String: Any], over stepFile: StepFile) throws(Failure) {
        let data: Data
        do {
            // Sorted keys: the same input always gives the same bytes. distilabel reads it with json.load,
            // to which key order and unescaped slashes mean nothing.
            data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw Failure(.runtime, "cannot encode \(stepFile.path) again: \(error.localizedDescription)", hint: "report this with the file attached")
        }
        let backup = stepFile.path + ".orig"
        // Once: a later repair must not replace the file as distilabel wrote it with an already repaired one.
        if !files.fileExists(backup) {
            try files.write(stepFile.text, to: backup, executable: false)
        }
        try files.write(String(decoding: data, as: UTF8.self), to: stepFile.path, executable: false)
    }

    // MARK: - Paths

    static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    static func parent(of file: String) -> String {
        guard let slash = file.lastIndex(of: "/") else { return "." }
        return slash == file.startIndex ? "/" : String(file[..<slash])
    }

    /// A JSON array of whole numbers (JSONSerialization's NSNumbers); nil for anything else.
    static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var result: [Int] = []
        for element in array {
            guard let number = element as? NSNumber, let whole = Int(exactly: number.doubleValue) else { return nil }
            result.append(whole)
        }
        return result
    }
}

/// What `DistilabelCache.repair()` changed, in words for status.json and the log.
public struct DistilabelCacheRepair: Sendable, Equatable, Codable {
    /// A predecessor batch the step had used up: the step now resumes at the next batch, row 0.
    public struct OffsetChange: Sendable, Equatable, Codable, CustomStringConvertible {
        /// The batch_manager_step.json changed.
        public var file: String
        public var step: String
        public var predecessor: String
        /// `step_offset[predecessor]`, `[batch seq_no, rows of it used]`, before and after.
        public var before: [Int]
        public var after: [Int]

        public init(file: String, step: String, predecessor: String, before: [Int], after: [Int]) {
            self.file = file
            self.step = step
            self.predecessor = predecessor
            self.before = before
            self.after = after
        }

        /// "step 'slow' predecessor 'load': offset [12, 10] -> [13, 0]"
        public var description: String {
            "step '\(step)' predecessor '\(predecessor)': offset \(before) -> \(after)"
        }
    }

    /// Every step of every execution found in the cache has one batch_manager_step.json.
    public var stepFilesRead: Int
    public var changes: [OffsetChange]
    /// True when nothing was written (`repair(dryRun: true)`).
    public var dryRun: Bool

    public init(stepFilesRead: Int, changes: [OffsetChange], dryRun: Bool = false) {
        self.stepFilesRead = stepFilesRead
        self.changes = changes
        self.dryRun = dryRun
    }

    /// The batch_manager_step.json files changed, in the order they were repaired.
    public var changedFiles: [String] {
        var seen: Set<String> = []
        return changes.map(\.file).filter { seen.insert($0).inserted }
    }

    public var filesChanged: Int { changedFiles.count }

    /// One line per change, then the count.
    public var lines: [String] {
        changes.map(\.description) + [summary]
    }

    public var summary: String {
        if stepFilesRead == 0 { return "no distilabel batch manager in the cache: nothing to repair" }
        let verb = dryRun ? "would change" : "changed"
        return "\(verb) \(filesChanged) of \(stepFilesRead) batch_manager_step.json file(s)"
    }
}
