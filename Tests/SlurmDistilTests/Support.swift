import Foundation
import Testing

@testable import SlurmDistil
import TestSupport

/// An in-memory file system for command logic that must not touch the disk.
final class MemoryFileSystem: FileSystem, @unchecked Sendable {
    var files: [String: String]
    var directories: Set<String> = []
    let currentDirectory: String
    let executablePath = "/opt/slurm-distil/bin/slurm-distil"

    init(files: [String: String] = [:], currentDirectory: String = "/work") {
        self.files = files
        self.currentDirectory = currentDirectory
    }

    func fileExists(_ path: String) -> Bool { files[path] != nil || directories.contains(path) || !directoryEntries(path).isEmpty }

    func read(_ path: String) throws(Failure) -> String {
        guard let text = files[path] else { throw Failure.usage("cannot read \(path): it does not exist") }
        return text
    }

    func write(_ text: String, to path: String, executable: Bool) throws(Failure) { files[path] = text }

    func createDirectoryIfMissing(_ path: String) throws(Failure) -> Bool { directories.insert(path).inserted }

    /// Folders exist implicitly above every file.
    func directoryEntries(_ path: String) -> [String] {
        let prefix = path.hasSuffix("/") ? path : path + "/"
        let below = Array(files.keys) + directories
        return Array(Set(below.filter { $0.hasPrefix(prefix) }.compactMap { $0.dropFirst(prefix.count).split(separator: "/").first.map(String.init) }))
    }

    func move(_ source: String, to destination: String) throws(Failure) {
        guard !fileExists(destination) else {
            throw Failure(.runtime, "cannot move \(source) to \(destination): it exists", hint: "choose another name")
        }
        let moved: (String) -> String? = { path in
            path == source ? destination : path.hasPrefix(source + "/") ? destination + path.dropFirst(source.count) : nil
        }
        for (path, text) in files { if let target = moved(path) { files[path] = nil; files[target] = text } }
        directories = Set(directories.map { moved($0) ?? $0 })
    }
}

func settings(_ pairs: [SettingKey: SettingValue]) -> Settings {
    Settings.builtInDefaults.overridden(
        by: Settings(pairs.mapValues { Setting($0, from: .flag("--test")) }))
}

func expectFailure(
    _ kind: ExitKind, containing fragment: String, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record("expected a \(kind) failure containing '\(fragment)'", sourceLocation: sourceLocation)
    } catch let failure as Failure {
        #expect(failure.kind == kind, sourceLocation: sourceLocation)
        #expect(failure.message.contains(fragment), "message was: \(failure.message)", sourceLocation: sourceLocation)
        #expect(failure.hint != nil, "every failure says what to do", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}
