import Foundation
import Testing

@testable import SlurmDistil
import TestSupport

/// Fixtures/distilabel-cache/<case>/ holds the batch manager files of real caches: research/distilabel-resume/pipe.py
/// (distilabel 1.5.3, local Pipeline, N_ROWS=60 IBS=10 SLEEP=0.3) stopped with SIGINT, its
/// DISTILABEL_CACHE_DIR (a temp folder) rewritten to /cache in the recorded paths.
/// - full-batch: GEN_BS=10, SIGINT after 2 batches: step 'slow' used batch 2 of 'load' up (the hang).
/// - partial-batch: GEN_BS=7, SIGINT after 2 batches: 6 rows of batch 2 used; resumes without a fix.
/// - chain: N_STEPS=2, SIGINT after 3 batches: both steps used their last input batch up.
enum CacheFixture: String {
    case fullBatch = "full-batch"
    case partialBatch = "partial-batch"
    case chain

    var execution: String {
        switch self {
        case .fullBatch: "/resume-repro/aff1afd26a59a6adc3eef8038e67c6a1777335b0/executions/826d3722dce9094471acdcdbfbeb202599eabccf"
        case .partialBatch: "/resume-repro/aff1afd26a59a6adc3eef8038e67c6a1777335b0/executions/3101746cd1b456b402a967ceab8c148f3796f0f7"
        case .chain: "/resume-repro/80cd8a2debd1eb07addd95ea70d123163bf4f85f/executions/146c26327b762f4e9048fd14c245039833c73705"
        }
    }

    func batchManager(root: String = "/cache") -> String { root + execution + "/batch_manager.json" }

    func stepFile(_ step: String, root: String = "/cache") -> String {
        root + execution + "/batch_manager_steps/\(step)/batch_manager_step.json"
    }

    var folder: URL { PackagePaths.unitFixtures.appending(path: "distilabel-cache/\(rawValue)") }

    /// Path below the case's folder -> text.
    func files() throws -> [String: String] {
        let base = folder.standardizedFileURL.path
        var files: [String: String] = [:]
        let walker = FileManager.default.enumerator(atPath: base)
        while let relative = walker?.nextObject() as? String {
            let url = URL(fileURLWithPath: base).appending(path: relative)
            guard relative.hasSuffix(".json") else { continue }
            files["/" + relative] = try String(contentsOf: url, encoding: .utf8)
        }
        return files
    }

    /// The case on the disk under `root`.
    func copy(to root: String) throws {
        for (relative, text) in try files() {
            let url = URL(fileURLWithPath: root + relative)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: false, encoding: .utf8)
        }
    }

    /// The case in memory under `root` (its recorded absolute paths still say /cache).
    func memory(root: String = "/cache") throws -> MemoryFileSystem {
        MemoryFileSystem(files: Dictionary(uniqueKeysWithValues: try files().map { (root + $0.key, $0.value) }))
    }
}

/// The object graph of a JSON text without some top-level keys, printed one canonical way.
func canonicalJSON(_ text: String, without removed: Set<String> = []) throws -> String {
    var object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    for key in removed { object[key] = nil }
    return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
}

func stepOffset(_ text: String) throws -> [String: [Int]] {
    let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    return try #require(object["step_offset"] as? [String: [Int]])
}

@Suite struct DistilabelCacheTests {
    @Test func fixturesAreWhatTheTestsSayTheyAre() throws {
        #expect(try CacheFixture.fullBatch.files().count == 3)
        #expect(try CacheFixture.chain.files().count == 4)
        let files = try CacheFixture.fullBatch.memory()
        #expect(try stepOffset(files.read(CacheFixture.fullBatch.stepFile("slow"))) == ["load": [2, 10]])
    }

    @Test func anInterruptedCacheIsRepaired() throws {
        let fixture = CacheFixture.fullBatch
        let files = try fixture.memory()
        let original = try files.read(fixture.stepFile("slow"))
        let repair = try DistilabelCache(path: "/cache", files: files).repair()

        let change = DistilabelCacheRepair.OffsetChange(
            file: fixture.stepFile("slow"), step: "slow", predecessor: "load", before: [2, 10], after: [3, 0])
        #expect(repair == DistilabelCacheRepair(stepFilesRead: 2, changes: [change]))
        #expect(repair.filesChanged == 1)
        #expect(repair.lines == [
            "step 'slow' predecessor 'load': offset [2, 10] -> [3, 0]",
            "changed 1 of 2 batch_manager_step.json file(s)",
        ])
        #expect(try stepOffset(files.read(fixture.stepFile("slow"))) == ["load": [3, 0]])
        #expect(try files.read(fixture.stepFile("slow") + ".orig") == original)
        #expect(files.files[fixture.stepFile("load") + ".orig"] == nil, "a file without a change is not touched")
        #expect(files.files[fixture.batchManager() + ".orig"] == nil)
    }

    @Test func everyStepOfAChainIsRepaired() throws {
        let fixture = CacheFixture.chain
        let files = try fixture.memory()
        let repair = try DistilabelCache(path: "/cache", files: files).repair()
        #expect(repair.changes.map(\.description) == [
            "step 'slow_1' predecessor 'load': offset [1, 10] -> [2, 0]",
            "step 'slow_2' predecessor 'slow_1': offset [1, 10] -> [2, 0]",
        ])
        #expect(repair.changedFiles == [fixture.stepFile("slow_1"), fixture.stepFile("slow_2")])
        #expect(repair.stepFilesRead == 3)
    }

    @Test func aSecondRepairChangesNothing() throws {
        let fixture = CacheFixture.fullBatch
        let files = try fixture.memory()
        let cache = DistilabelCache(path: "/cache", files: files)
        _ = try cache.repair()
        let repaired = files.files
        let again = try cache.repair()
        #expect(again.changes.isEmpty)
        #expect(again.summary == "changed 0 of 2 batch_manager_step.json file(s)")
        #expect(files.files == repaired, "byte for byte, .orig included")
    }

    @Test func theBackupKeepsTheFileAsDistilabelFirstWroteIt() throws {
        let fixture = CacheFixture.fullBatch
        let files = try fixture.memory()
        let original = try files.read(fixture.stepFile("slow"))
        _ = try DistilabelCache(path: "/cache", files: files).repair()
        // A second attempt, stopped again, rewrites the step file with a new used-up batch.
        files.files[fixture.stepFile("slow")] = original.replacingOccurrences(of: "\"step_offset\":{\"load\":[2,10]}", with: "\"step_offset\":{\"load\":[4,10]}")
            .replacingOccurrences(of: "\"next_expected_seq_no\":{\"load\":[3,3]}", with: "\"next_expected_seq_no\":{\"load\":[5,5]}")
        let repair = try DistilabelCache(path: "/cache", files: files).repair()
        #expect(repair.changes.map(\.description) == ["step 'slow' predecessor 'load': offset [4, 10] -> [5, 0]"])
        #expect(try files.read(fixture.stepFile("slow") + ".orig") == original)
    }

    @Test func fieldsOtherThanTheOffsetAreKept() throws {
        let fixture = CacheFixture.fullBatch
        let files = try fixture.memory()
        let before = try files.read(fixture.stepFile("slow"))
        _ = try DistilabelCache(path: "/cache", files: files).repair()
        let after = try files.read(fixture.stepFile("slow"))
        #expect(try canonicalJSON(after, without: ["step_offset"]) == canonicalJSON(before, without: ["step_offset"]))
        // The canonical comparison reads both through JSONSerialization; these say the types survived as written.
        for kept in ["\"accumulate\":false", "\"use_cache\":true", "\"input_batch_size\":10", "\"seq_no\":3", "\"data_hash\":null", "\"next_expected_seq_no\":{\"load\":[3,3]}"] {
            #expect(before.contains(kept) == after.contains(kept), "\(kept)")
        }
        #expect(after.contains("\"step_offset\":{\"load\":[3,0]}"))
    }

    @Test func aPartlyUsedBatchNeedsNoChange() throws {
        let files = try CacheFixture.partialBatch.memory()
        let before = files.files
        let repair = try DistilabelCache(path: "/cache", files: files).repair()
        #expect(repair.changes.isEmpty)
        #expect(repair.stepFilesRead == 2)
        #expect(files.files == before)
    }

    @Test func aDryRunWritesNothing() throws {
        let files = try CacheFixture.chain.memory()
        let before = files.files
        let repair = try DistilabelCache(path: "/cache", files: files).repair(dryRun: true)
        #expect(repair.filesChanged == 2)
        #expect(repair.summary == "would change 2 of 3 batch_manager_step.json file(s)")
        #expect(files.files == before)
    }

    @Test(arguments: [CacheFixture.fullBatch, .partialBatch, .chain])
    func aCacheStoppedWithSIGINTIsSafe(fixture: CacheFixture) throws {
        #expect(DistilabelCache(path: "/cache", files: try fixture.memory()).check() == [])
    }

    @Test func noCacheYetIsNothingToDo() throws {
        let cache = DistilabelCache(path: "/nowhere", files: MemoryFileSystem())
        #expect(cache.check() == [])
        let repair = try cache.repair()
        #expect(repair.changes.isEmpty && repair.stepFilesRead == 0)
        #expect(repair.summary == "no distilabel batch manager in the cache: nothing to repair")
    }

    static let tornTexts = ["", "  \n", "{\"steps\":{\"slow\":\"/cache/resume-repro/aff1af"]
    static let tornCauses = ["is empty", "is empty", "is not valid JSON (44 bytes, probably cut short)"]

    @Test(arguments: zip(tornTexts, tornCauses))
    func aTornBatchManagerIsReported(text: String, cause: String) throws {
        let fixture = CacheFixture.fullBatch
        let files = try fixture.memory()
        files.files[fixture.batchManager()] = text
        let cache = DistilabelCache(path: "/cache", files: files)
        #expect(cache.check() == ["distilabel cache file \(fixture.batchManager()) \(cause)"])
        let before = files.files
        expectFailure(.runtime, containing: fixture.batchManager()) { _ = try cache.repair() }
        #expect(files.files == before)
    }

    @Test func aTornOrMissingStepFileIsReported() throws {
        let fixture = CacheFixture.chain
        let files = try fixture.memory()
        files.files[fixture.stepFile("slow_1")] = ""
        files.files[fixture.stepFile("slow_2")] = nil
        let cache = DistilabelCache(path: "/cache", files: files)
        #expect(cache.check() == [
            "distilabel cache file \(fixture.stepFile("slow_1")) is empty",
            "distilabel cache file \(fixture.stepFile("slow_2")) is missing (step 'slow_2' of \(fixture.batchManager()); \(fixture.stepFile("slow_2")) does not exist either)",
        ])
        expectFailure(.runtime, containing: fixture.stepFile("slow_1")) { _ = try cache.repair() }
        #expect(files.files[fixture.stepFile("slow_1") + ".orig"] == nil, "nothing is written when any file is unusable")
    }

    @Test func aStepOffsetOfTheWrongShapeIsReported() throws {
        let fixture = CacheFixture.fullBatch
        let files = try fixture.memory()
        files.files[fixture.stepFile("slow")] = try files.read(fixture.stepFile("slow"))
            .replacingOccurrences(of: "\"step_offset\":{\"load\":[2,10]}", with: "\"step_offset\":{\"load\":[2]}")
        #expect(DistilabelCache(path: "/cache", files: files).check() == [
            "distilabel cache file \(fixture.stepFile("slow")) has step_offset[\"load\"] that is not [batch, rows]"
        ])
    }

    @Test func theFileBesideBatchManagerIsPreferredToTheRecordedPath() throws {
        let fixture = CacheFixture.fullBatch
        // Moved: the recorded absolute paths (/cache/...) no longer exist, the files beside batch_manager.json do.
        let moved = try fixture.memory(root: "/moved")
        let repair = try DistilabelCache(path: "/moved", files: moved).repair()
        #expect(repair.changedFiles == [fixture.stepFile("slow", root: "/moved")])

        // Both exist: the one beside batch_manager.json wins.
        let both = try fixture.memory(root: "/moved")
        for (path, text) in try fixture.memory().files { both.files[path] = text }
        _ = try DistilabelCache(path: "/moved", files: both).repair()
        #expect(try stepOffset(both.read(fixture.stepFile("slow", root: "/moved"))) == ["load": [3, 0]])
        #expect(try stepOffset(both.read(fixture.stepFile("slow"))) == ["load": [2, 10]])

        // Only the recorded path exists: it is used.
        let recordedOnly = try fixture.memory(root: "/moved")
        recordedOnly.files[fixture.stepFile("slow", root: "/moved")] = nil
        recordedOnly.files[fixture.stepFile("slow")] = try fixture.memory().read(fixture.stepFile("slow"))
        let fromRecorded = try DistilabelCache(path: "/moved", files: recordedOnly).repair()
        #expect(fromRecorded.changedFiles == [fixture.stepFile("slow")])
    }

    @Test func hiddenFoldersAreNotExecutions() throws {
        let fixture = CacheFixture.fullBatch
        let files = try fixture.memory()
        // An editor's or rsync's leftovers in a hidden folder are not a pipeline of this cache.
        files.files["/cache/.partial/sig/executions/x/batch_manager.json"] = ""
        #expect(DistilabelCache(path: "/cache", files: files).check() == [])
    }

    @Test func anUnsafeCacheIsSetAside() throws {
        let fixture = CacheFixture.fullBatch
        let files = try fixture.memory(root: "/scratch/cache")
        files.files[fixture.batchManager(root: "/scratch/cache")] = ""
        let cache = DistilabelCache(path: "/scratch/cache", files: files)
        try cache.setAside(to: "/scratch/cache.unsafe-1")
        #expect(cache.check() == [])
        #expect(files.files[fixture.batchManager(root: "/scratch/cache.unsafe-1")] == "")
        #expect(!files.fileExists("/scratch/cache"))

        let again = try fixture.memory(root: "/scratch/cache")
        again.files["/scratch/cache.unsafe-1/x"] = "taken"
        expectFailure(.runtime, containing: "/scratch/cache.unsafe-1") {
            try DistilabelCache(path: "/scratch/cache", files: again).setAside(to: "/scratch/cache.unsafe-1")
        }
        expectFailure(.runtime, containing: "does not exist") {
            try DistilabelCache(path: "/nowhere", files: again).setAside(to: "/scratch/elsewhere")
        }
    }

    /// The same on the disk: listing, the atomic write and the rename of LocalFileSystem.
    @Test func onDisk() throws {
        let fixture = CacheFixture.fullBatch
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let cacheDir = root.appending(path: "cache").path
        try fixture.copy(to: cacheDir)
        let cache = DistilabelCache(path: cacheDir + "/", files: LocalFileSystem())
        #expect(cache.check() == [])
        let repair = try cache.repair()
        let slow = fixture.stepFile("slow", root: cacheDir)
        #expect(repair.changedFiles == [slow])
        #expect(try stepOffset(String(contentsOfFile: slow, encoding: .utf8)) == ["load": [3, 0]])
        let slowFolder = URL(fileURLWithPath: slow).deletingLastPathComponent().path
        #expect(try FileManager.default.contentsOfDirectory(atPath: slowFolder).sorted() == ["batch_manager_step.json", "batch_manager_step.json.orig"])
        #expect(try cache.repair().changes.isEmpty)

        try cache.setAside(to: root.appending(path: "cache.unsafe").path)
        #expect(!FileManager.default.fileExists(atPath: cacheDir))
        #expect(FileManager.default.fileExists(atPath: fixture.batchManager(root: root.appending(path: "cache.unsafe").path)))
    }
}

/// What a requeued attempt does with the cache the previous attempt left.
@Suite struct DistilabelResumeStateTests {
    @Test func afterAGracefulStopTheCacheIsRepairedInPlace() throws {
        let fixture = CacheFixture.fullBatch
        let files = try fixture.memory()
        let notes = DistilabelResumeState(cachePath: "/cache", attempt: 2, files: files).prepare(previousAttemptResumable: true)
        #expect(notes.first?.hasPrefix("distilabel cache /cache repaired so that it resumes") == true, "\(notes)")
        #expect(notes.contains("step 'slow' predecessor 'load': offset [2, 10] -> [3, 0]"))
        #expect(try stepOffset(files.read(fixture.stepFile("slow"))) == ["load": [3, 0]])
    }

    @Test func afterAnythingElseTheCacheIsSetAsideAndTheAttemptStartsOver() throws {
        let fixture = CacheFixture.fullBatch
        let files = try fixture.memory()
        let notes = DistilabelResumeState(cachePath: "/cache", attempt: 3, files: files).prepare(previousAttemptResumable: false)
        #expect(notes == ["distilabel cache set aside to /cache.unsafe-before-attempt-3 (the previous attempt did not stop gracefully, or lost a node with batches in flight): this attempt starts the pipeline from the beginning"])
        #expect(!files.fileExists("/cache") && files.fileExists(fixture.batchManager(root: "/cache.unsafe-before-attempt-3")))

        let torn = try fixture.memory()
        torn.files[fixture.batchManager()] = ""
        let tornNotes = DistilabelResumeState(cachePath: "/cache", attempt: 2, files: torn).prepare(previousAttemptResumable: true)
        #expect(tornNotes.first?.contains("is empty") == true, "a torn file is not resumed from even after a graceful stop: \(tornNotes)")
        #expect(!torn.fileExists("/cache"))
    }

    @Test func noCacheNothingToDo() throws {
        #expect(DistilabelResumeState(cachePath: "/none", attempt: 2, files: MemoryFileSystem()).prepare(previousAttemptResumable: true) == [])
    }
}
