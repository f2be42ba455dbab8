import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A working_dir packed as Ray packs it: the same files, the same content-derived name.
public struct WorkingDirPackage: Sendable {
    public struct Entry: Sendable {
        /// Path inside the zip; folders end in `/`.
        public var name: String
        public var path: String
        public var size: Int
        public var mode: UInt32
        public var isDirectory: Bool
    }

    /// `_ray_pkg_<16 hex>.zip`
    public var name: String
    public var entries: [Entry]

    /// Ray's upload limit (GCS_STORAGE_MAX_SIZE).
    public static let maximumSize = 104_857_600
    /// Ray's default excludes (RAY_RUNTIME_ENV_DEFAULT_EXCLUDES).
    public static let defaultExcludes = [".git", ".venv", "venv", "__pycache__"]

    public var uri: String { "gcs://\(name)" }
    public var contentSize: Int { entries.reduce(0) { $0 + $1.size } }

    /// The zip's size: stored entries, 30 + name bytes of local header, 46 + name of central record, 22 of end.
    public var zipSize: Int {
        entries.reduce(22) { $0 + $1.size + 76 + 2 * $1.name.utf8.count }
    }

    /// Walks `root` as Ray does: `.gitignore` and `.rayignore` in every folder (relative to it), then
    /// the default and the runtime_env excludes (relative to the root); hashes what stays.
    public static func scan(root: String, excludes: [String], includeGitignore: Bool = true) throws(Failure) -> WorkingDirPackage {
        var info = stat()
        guard stat(root, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw Failure.usage("working_dir \(root) is not an existing folder", hint: "check --working-dir (or working_dir in the runtime_env file)")
        }
        var walker = Walker(root: root, includeGitignore: includeGitignore)
        walker.specs.append(("", PathSpec(lines: defaultExcludes + excludes)))
        try walker.travel(path: root, relative: "", info: info)
        var package = WorkingDirPackage(name: "", entries: walker.entries)
        // Refused before a byte of content is read.
        try package.checkSize(root: root)
        var hash: [UInt8] = Array("00000000".utf8)
        for (relative, path, isDirectory) in walker.visited {
            var sha = SHA1()
            sha.update(Array(relative.utf8))
            if !isDirectory {
                guard let handle = FileHandle(forReadingAtPath: path) else {
                    throw Failure.usage("cannot read \(path) in the working_dir", hint: "fix its permissions, or exclude it with .rayignore")
                }
                defer { try? handle.close() }
                do {
                    while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty {
                        sha.update(chunk)
                    }
                } catch {
                    throw Failure.usage("cannot read \(path) in the working_dir: \(error.localizedDescription)", hint: "fix the file, or exclude it with .rayignore")
                }
            }
            let digest = sha.finalize()
            for index in 0..<8 { hash[index] ^= digest[index] }
        }
        package.name = "_ray_pkg_" + hash.map { String(format: "%02x", $0) }.joined() + ".zip"
        return package
    }

    /// Refuses a package Ray would refuse (413), before reading or sending it, naming the largest files.
    public func checkSize(root: String) throws(Failure) {
        guard zipSize > Self.maximumSize else { return }
        let largest = entries.filter { !$0.isDirectory }.sorted { $0.size > $1.size }.prefix(5)
            .map { "\($0.name) (\(Self.mebibytes($0.size)))" }.joined(separator: ", ")
        throw Failure.usage(
            "working_dir \(root) packs to \(Self.mebibytes(zipSize)), over Ray's limit of \(Self.mebibytes(Self.maximumSize)); largest files: \(largest)",
            hint: "exclude them with a .rayignore file or runtime_env `excludes`, or put data on shared storage and read it from there")
    }

    static func mebibytes(_ bytes: Int) -> String {
        String(format: "%.1f MiB", Double(bytes) / 1_048_576)
    }

    /// The zip archive, entries at its root, stored without compression as Ray's client does.
    public func zip() throws(Failure) -> Data {
        guard entries.count < 65_535 else {
            throw Failure.usage("working_dir has \(entries.count) entries, more than a zip without zip64 holds", hint: "exclude generated files with .rayignore")
        }
        var archive = Data()
        archive.reserveCapacity(zipSize)
        var central = Data()
        for entry in entries {
            let content: Data
            if entry.isDirectory {
                content = Data()
            } else {
                guard let data = FileManager.default.contents(atPath: entry.path) else {
                    throw Failure.usage("cannot read \(entry.path) for the working_dir package", hint: "fix its permissions, or exclude it with .rayignore")
                }
                content = data
            }
            let crc = content.withUnsafeBytes { CRC32.update(0, $0) }
            let name = Data(entry.name.utf8)
            let offset = UInt32(archive.count)
            let flags: UInt16 = entry.name.utf8.contains { $0 >= 0x80 } ? 0x0800 : 0
            // 1980-01-01 00:00: the time does not matter to Ray and keeps the archive reproducible.
            let (time, date): (UInt16, UInt16) = (0, 0x21)
            archive.append(littleEndian: UInt32(0x0403_4B50))
            archive.append(littleEndian: UInt16(20))
            archive.append(littleEndian: flags)
            archive.append(littleEndian: UInt16(0))
            archive.append(littleEndian: time)
            archive.append(littleEndian: date)
            archive.append(littleEndian: crc)
            archive.append(littleEndian: UInt32(content.count))
            archive.append(littleEndian: UInt32(content.count))
            archive.append(littleEndian: UInt16(name.count))
            archive.append(littleEndian: UInt16(0))
            archive.append(name)
            archive.append(content)

            central.append(littleEndian: UInt32(0x0201_4B50))
            central.append(littleEndian: UInt16(3 << 8 | 20))
            central.append(littleEndian: UInt16(20))
            central.append(littleEndian: flags)
            central.append(littleEndian: UInt16(0))
            central.append(littleEndian: time)
            central.append(littleEndian: date)
            central.append(littleEndian: crc)
            central.append(littleEndian: UInt32(content.count))
            central.append(littleEndian: UInt32(content.count))
            central.append(littleEndian: UInt16(name.count))
            central.append(littleEndian: UInt16(0))
            central.append(littleEndian: UInt16(0))
            central.append(littleEndian: UInt16(0))
            central.append(littleEndian: UInt16(0))
            // Unix mode in the high half keeps exec bits; 0x10 marks folders for other tools.
            central.append(littleEndian: entry.mode << 16 | (entry.isDirectory ? 0x10 : 0))
            central.append(littleEndian: offset)
            central.append(name)
        }
        let centralOffset = UInt32(archive.count)
        archive.append(central)
        archive.append(littleEndian: UInt32(0x0605_4B50))
        archive.append(littleEndian: UInt16(0))
        archive.append(littleEndian: UInt16(0))
        archive.append(littleEndian: UInt16(entries.count))
        archive.append(littleEndian: UInt16(entries.count))
        archive.append(littleEndian: UInt32(central.count))
        archive.append(littleEndian: centralOffset)
        archive.append(littleEndian: UInt16(0))
        return archive
    }
}

private struct Walker {
    let root: String
    let includeGitignore: Bool
    /// Exclusion specs with the folder (relative to the root) their patterns are relative to.
    var specs: [(base: String, spec: PathSpec)] = []
    /// Every path Ray hashes: relative name ("." for the root), path, and whether it is a folder.
    var visited: [(String, String, Bool)] = []
    var entries: [WorkingDirPackage.Entry] = []
    /// (device, inode) of the folders on the current path, to stop at symlink loops.
    var ancestors: [(UInt64, UInt64)] = []

    init(root: String, includeGitignore: Bool) {
        self.root = root
        self.includeGitignore = includeGitignore
    }

    mutating func travel(path: String, relative: String, info: stat) throws(Failure) {
        let isDirectory = info.st_mode & S_IFMT == S_IFDIR
        var added = 0
        if isDirectory {
            for file in (includeGitignore ? [".gitignore", ".rayignore"] : [".rayignore"]) {
                if let text = try? String(contentsOfFile: path + "/" + file, encoding: .utf8) {
                    specs.append((relative, PathSpec(lines: text.components(separatedBy: "\n"))))
                    added += 1
                }
            }
        }
        defer { specs.removeLast(added) }
        let skipped = specs.contains { base, spec in
            let local: String
            if relative == base {
                local = "."
            } else {
                local = base.isEmpty ? relative : String(relative.dropFirst(base.count + 1))
            }
            return spec.matches(local)
        }
        if skipped { return }

        visited.append((relative.isEmpty ? "." : relative, path, isDirectory))
        if isDirectory {
            let identity = (UInt64(info.st_dev), UInt64(info.st_ino))
            if ancestors.contains(where: { $0 == identity }) {
                throw Failure.usage(
                    "working_dir has a symlink loop at \(relative)",
                    hint: "remove the link, or exclude it with .rayignore (Ray's own client would recurse forever)")
            }
            let children: [String]
            do {
                children = try FileManager.default.contentsOfDirectory(atPath: path)
            } catch {
                throw Failure.usage("cannot list \(path) in the working_dir", hint: "fix its permissions, or exclude it with .rayignore")
            }
            if children.isEmpty, !relative.isEmpty {
                entries.append(.init(name: relative + "/", path: path, size: 0, mode: UInt32(info.st_mode) | UInt32(S_IFDIR), isDirectory: true))
            }
            ancestors.append(identity)
            defer { ancestors.removeLast() }
            for child in children.sorted() {
                let childPath = path + "/" + child
                var childInfo = stat()
                guard stat(childPath, &childInfo) == 0 else {
                    throw Failure.usage("\(childPath) in the working_dir cannot be read (a broken symlink?)", hint: "remove it or exclude it with .rayignore")
                }
                try travel(path: childPath, relative: relative.isEmpty ? child : relative + "/" + child, info: childInfo)
            }
        } else {
            guard access(path, R_OK) == 0 else {
                throw Failure.usage("cannot read \(path) in the working_dir", hint: "fix its permissions, or exclude it with .rayignore")
            }
            entries.append(.init(name: relative, path: path, size: Int(info.st_size), mode: UInt32(info.st_mode), isDirectory: false))
        }
    }
}

extension Data {
    mutating func append<Integer: FixedWidthInteger>(littleEndian value: Integer) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
