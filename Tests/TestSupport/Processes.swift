import Foundation
import SlurmDistil

/// Paths of the package, found from this file so tests need no resource bundle.
public enum PackagePaths {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    public static let golden = root.appending(path: "Tests/SlurmDistilTests/Golden")
    public static let fixtures = root.appending(path: "Tests/Fixtures")
    /// Data files only SlurmDistilTests reads (Tests/Fixtures holds programs both test targets run).
    public static let unitFixtures = root.appending(path: "Tests/SlurmDistilTests/Fixtures")
    public static var binary: String {
        ProcessInfo.processInfo.environment["SLURM_DISTIL_BIN"] ?? root.appending(path: ".build/debug/slurm-distil").path
    }
}

public struct ProcessResult: Sendable {
    public var status: Int32
    /// Standard output as bytes, and as text with invalid UTF-8 replaced.
    public var stdoutData: Data
    public var stderr: String
    public var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
}

/// Runs a program to completion, feeding `input` on stdin. Output goes through files, not pipes: a
/// long-running child of another test that inherited a pipe's write end would otherwise keep it open forever.
public func runProcess(
    _ executable: String, _ arguments: [String], input: String? = nil, environment: [String: String]? = nil,
    directory: URL? = nil
) throws -> ProcessResult {
    let scratch = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: scratch) }
    let paths = ["stdin", "stdout", "stderr"].map { scratch.appending(path: $0) }
    try Data((input ?? "").utf8).write(to: paths[0])
    _ = FileManager.default.createFile(atPath: paths[1].path, contents: nil)
    _ = FileManager.default.createFile(atPath: paths[2].path, contents: nil)
    let child = try ChildProcess.spawn(
        executable, arguments, environment: environment, directory: directory?.path,
        stdin: .readFile(paths[0].path), stdout: .file(paths[1].path, append: false), stderr: .file(paths[2].path, append: false))
    let status = child.wait()
    return ProcessResult(
        status: status,
        stdoutData: try Data(contentsOf: paths[1]),
        stderr: String(decoding: try Data(contentsOf: paths[2]), as: UTF8.self))
}

public func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appending(path: "slurm-distil-test-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

