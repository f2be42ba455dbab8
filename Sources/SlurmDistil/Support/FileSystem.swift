import Foundation

/// The file system as the commands need it; tests pass an in-memory one.
public protocol FileSystem: Sendable {
    var currentDirectory: String { get }
    /// Absolute path of the running slurm-distil binary, which generated scripts call.
    var executablePath: String { get }
    func fileExists(_ path: String) -> Bool
    func read(_ path: String) throws(Failure) -> String
    /// Replaces the file whole (a temporary file renamed over it): a reader never sees half of it.
    func write(_ text: String, to path: String, executable: Bool) throws(Failure)
    /// Creates the folder (and its parents); true when it did not exist before.
    func createDirectoryIfMissing(_ path: String) throws(Failure) -> Bool
    /// Names (not paths) in a folder, unsorted; empty when it is not a folder that can be read.
    func directoryEntries(_ path: String) -> [String]
    /// Renames a file or folder; refuses when the destination exists.
    func move(_ source: String, to destination: String) throws(Failure)
}

public struct LocalFileSystem: FileSystem {
    public init() {}

    public var currentDirectory: String { FileManager.default.currentDirectoryPath }

    public var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    }

    public func fileExists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path)
    }

    public func read(_ path: String) throws(Failure) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "it cannot be read" : "it does not exist"
            throw Failure.usage("cannot read \(path): \(reason)", hint: "check the path and its permissions")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw Failure.usage("\(path) is not UTF-8 text")
        }
        return text
    }

    public func write(_ text: String, to path: String, executable: Bool) throws(Failure) {
        do {
            // Written whole to a temporary file, then renamed: a failure never leaves half a script.
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            if executable {
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
            }
        } catch {
            throw Failure(.runtime, "cannot write \(path): \(error.localizedDescription)", hint: "check that the folder exists and is writable")
        }
    }

    public func createDirectoryIfMissing(_ path: String) throws(Failure) -> Bool {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw Failure.usage("\(path) exists and is not a folder", hint: "choose another --log-dir")
            }
            return false
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw Failure(.runtime, "cannot create \(path): \(error.localizedDescription)", hint: "check permissions, or choose another --log-dir")
        }
        return true
    }

    public func directoryEntries(_ path: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    }

    public func move(_ source: String, to destination: String) throws(Failure) {
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw Failure(.runtime, "cannot move \(source) to \(destination): it exists", hint: "choose another name, or remove \(destination)")
        }
        do {
            try FileManager.default.moveItem(atPath: source, toPath: destination)
        } catch {
            throw Failure(.runtime, "cannot move \(source) to \(destination): \(error.localizedDescription)", hint: "check that both are on one file system and writable")
        }
    }
}

/// Sizes such as 2G, 500M, 1048576.
public enum ByteSize {
    public static func parse(_ text: String, option: String) throws(Failure) -> Int {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = Substring(text.uppercased())
        if digits.hasSuffix("IB") { digits = digits.dropLast(2) } else if digits.hasSuffix("B") { digits = digits.dropLast() }
        var factor = 1
        if let last = digits.last, let unit = units[last] {
            factor = unit
            digits = digits.dropLast()
        }
        guard let value = Int(digits), value > 0 else {
            throw Failure.usage("invalid size \(text.debugDescription) for \(option)", hint: "give bytes, or a number with K, M, G or T (e.g. 500M, 2G)")
        }
        return value * factor
    }
}
