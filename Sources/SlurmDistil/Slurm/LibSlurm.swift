import CSlurm
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Opens shared libraries and finds their symbols: dlopen in the binary, a fake in the unit tests.
public protocol SharedLibraryLoader {
    /// Opens `name`; a name without a slash goes through the dynamic loader's search path. On failure: why.
    func open(_ name: String) -> Result<UnsafeMutableRawPointer, SharedLibraryLoadError>
    func symbol(_ name: String, in library: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer?
    func close(_ library: UnsafeMutableRawPointer)
}

public struct SharedLibraryLoadError: Error, Sendable, Equatable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
}

public struct DynamicLoader: SharedLibraryLoader {
    public init() {}

    public func open(_ name: String) -> Result<UnsafeMutableRawPointer, SharedLibraryLoadError> {
        _ = dlerror()
        // RTLD_GLOBAL as if linked: libslurm dlopens its own plugins (auth/munge, ...), which look up
        // libslurm's symbols in the global scope.
        guard let handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL) else {
            return .failure(SharedLibraryLoadError(dlerror().map { String(cString: $0) } ?? "dlopen failed"))
        }
        return .success(handle)
    }

    public func symbol(_ name: String, in library: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
        dlsym(library, name)
    }

    public func close(_ library: UnsafeMutableRawPointer) {
        dlclose(library)
    }
}

/// Where libslurm is looked for, in order. One binary serves every Slurm from 22.05 on because the
/// library is found at run time instead of being linked against the build machine's soname.
public enum LibSlurmSearch {
    /// Names the file to load, skipping the search (a site with libslurm outside the loader's paths).
    public static let environmentVariable = "SLURM_DISTIL_LIBSLURM"
    /// Slurm 25.05 (43) down to 22.05 (38), newest first: the one a site's libslurm-dev links is
    /// usually the newest installed.
    public static let versionedNames = (38...43).reversed().map { "libslurm.so.\($0)" }

    public enum Candidates: Equatable {
        /// Only this file, from the environment variable.
        case explicit(String)
        /// These names through the loader's search path, then these paths next to scontrol.
        case search(names: [String], besideScontrol: [String])

        public var all: [String] {
            switch self {
            case .explicit(let path): [path]
            case .search(let names, let beside): names + beside
            }
        }
    }

    /// `libslurm.so` (a -dev package's link to the version its headers describe), the versioned names,
    /// then `lib64/` and `lib/` beside each `bin/` on PATH that holds scontrol: a Slurm installed under
    /// /opt/slurm finds its library through scontrol's RPATH, which the loader does not know about.
    public static func candidates(environment: [String: String], isExecutable: (String) -> Bool) -> Candidates {
        if let path = environment[environmentVariable], !path.isEmpty {
            return .explicit(path)
        }
        var beside: [String] = []
        for directory in (environment["PATH"] ?? "").split(separator: ":") where isExecutable("\(directory)/scontrol") {
            let prefix = URL(fileURLWithPath: String(directory)).deletingLastPathComponent().path
            for lib in ["lib64", "lib"] where !beside.contains("\(prefix)/\(lib)/libslurm.so") {
                beside.append("\(prefix)/\(lib)/libslurm.so")
            }
        }
        return .search(names: ["libslurm.so"] + versionedNames, besideScontrol: beside)
    }
}

/// The libslurm functions slurm-distil calls, looked up in whichever libslurm.so.NN the machine has.
///
/// Their types come from the installed headers (CSlurm/shim.h). Only string, integer, FILE* and
/// opaque-handle arguments cross this boundary: node records are printed by libslurm itself and
/// parsed as text, never read through node_info_t, whose layout changes with every release.
public struct LibSlurm: @unchecked Sendable {  // C function pointers into a library that is never closed.
    /// The file that was loaded (as named to the loader).
    public let path: String
    let hostlistCreate: sd_hostlist_create_fn
    let hostlistCount: sd_hostlist_count_fn
    let hostlistShift: sd_hostlist_shift_fn
    let hostlistRanged: sd_hostlist_ranged_fn
    let hostlistPushHost: sd_hostlist_push_host_fn
    let hostlistDestroy: sd_hostlist_destroy_fn
    let initialize: sd_init_fn
    let loadNode: sd_load_node_fn
    let printNodeInfo: sd_print_node_info_msg_fn
    let freeNodeInfo: sd_free_node_info_msg_fn
    let strerror: sd_strerror_fn

    /// The symbols it needs; a library lacking one is passed over.
    public static let symbols = [
        "slurm_hostlist_create", "slurm_hostlist_count", "slurm_hostlist_shift", "slurm_hostlist_ranged_string",
        "slurm_hostlist_push_host", "slurm_hostlist_destroy", "slurm_init", "slurm_load_node", "slurm_print_node_info_msg",
        "slurm_free_node_info_msg", "slurm_strerror",
    ]

    init(path: String, resolve: (String) -> UnsafeMutableRawPointer) {
        self.path = path
        hostlistCreate = unsafeBitCast(resolve("slurm_hostlist_create"), to: sd_hostlist_create_fn.self)
        hostlistCount = unsafeBitCast(resolve("slurm_hostlist_count"), to: sd_hostlist_count_fn.self)
        hostlistShift = unsafeBitCast(resolve("slurm_hostlist_shift"), to: sd_hostlist_shift_fn.self)
        hostlistRanged = unsafeBitCast(resolve("slurm_hostlist_ranged_string"), to: sd_hostlist_ranged_fn.self)
        hostlistPushHost = unsafeBitCast(resolve("slurm_hostlist_push_host"), to: sd_hostlist_push_host_fn.self)
        hostlistDestroy = unsafeBitCast(resolve("slurm_hostlist_destroy"), to: sd_hostlist_destroy_fn.self)
        initialize = unsafeBitCast(resolve("slurm_init"), to: sd_init_fn.self)
        loadNode = unsafeBitCast(resolve("slurm_load_node"), to: sd_load_node_fn.self)
        printNodeInfo = unsafeBitCast(resolve("slurm_print_node_info_msg"), to: sd_print_node_info_msg_fn.self)
        freeNodeInfo = unsafeBitCast(resolve("slurm_free_node_info_msg"), to: sd_free_node_info_msg_fn.self)
        strerror = unsafeBitCast(resolve("slurm_strerror"), to: sd_strerror_fn.self)
    }

    /// Tries the candidates in order and keeps the first library that has every symbol.
    public static func load(environment: [String: String], loader: some SharedLibraryLoader, isExecutable: (String) -> Bool)
        throws(Failure) -> LibSlurm
    {
        let candidates = LibSlurmSearch.candidates(environment: environment, isExecutable: isExecutable)
        var refused: [String] = []
        for name in candidates.all {
            let library: UnsafeMutableRawPointer
            switch loader.open(name) {
            case .success(let opened): library = opened
            case .failure(let error):
                // "No such file" for every name that is not installed says nothing; other reasons do.
                if !error.reason.contains("No such file") {
                    refused.append(error.reason.hasPrefix(name) ? error.reason : "\(name): \(error.reason)")
                }
                continue
            }
            var found: [String: UnsafeMutableRawPointer] = [:]
            for symbol in symbols {
                if let address = loader.symbol(symbol, in: library) { found[symbol] = address }
            }
            let missing = symbols.filter { found[$0] == nil }
            guard missing.isEmpty else {
                refused.append("\(name): lacks \(missing.joined(separator: ", "))")
                loader.close(library)
                continue
            }
            return LibSlurm(path: name) { found[$0]! }
        }
        throw notFound(candidates, refused: refused, environment: environment)
    }

    static func notFound(_ candidates: LibSlurmSearch.Candidates, refused: [String], environment: [String: String]) -> Failure {
        let details = refused.isEmpty ? "" : "\n" + refused.map { "  \($0)" }.joined(separator: "\n")
        switch candidates {
        case .explicit(let path):
            return Failure.environment(
                "cannot load libslurm from \(LibSlurmSearch.environmentVariable)=\(path)\(details.isEmpty ? ": no such file" : details)",
                hint: "point \(LibSlurmSearch.environmentVariable) at the cluster's libslurm.so.NN (`ldd $(command -v scontrol) | grep libslurm` shows it), or unset it to search")
        case .search(let names, let beside):
            let loaderPath = environment["LD_LIBRARY_PATH"].map { "LD_LIBRARY_PATH=\($0), " } ?? ""
            var places = "\(names.first!), \(names.dropFirst().first!) ... \(names.last!) in the dynamic loader's path (\(loaderPath)/etc/ld.so.cache, /lib, /usr/lib)"
            if !beside.isEmpty { places += " and \(beside.joined(separator: ", ")) beside scontrol" }
            return Failure.environment(
                "libslurm (Slurm's client library) was not found; looked for \(places)\(details)",
                hint: "hosts and bootstrap need it (gen-sbatch and the Jobs commands do not): install Slurm's library (Debian/Ubuntu: libslurmNN, RHEL: slurm), or set \(LibSlurmSearch.environmentVariable)=/path/to/libslurm.so.NN")
        }
    }

    /// Loaded on first use, from this process's environment; the outcome, found or not, is kept.
    static let shared: Result<LibSlurm, Failure> = Result { () throws(Failure) in
        try load(environment: ProcessInfo.processInfo.environment, loader: DynamicLoader()) { access($0, X_OK) == 0 }
    }

    /// The process's libslurm, or why there is none.
    public static func system() throws(Failure) -> LibSlurm {
        try shared.get()
    }
}

// MARK: - Host lists

extension LibSlurm {
    /// The hosts libslurm expands `list` to; nil when it cannot parse it.
    func expand(_ list: String) -> [String]? {
        guard let handle = hostlistCreate(list) else { return nil }
        defer { hostlistDestroy(handle) }
        var hosts: [String] = []
        hosts.reserveCapacity(Int(hostlistCount(handle)))
        while let host = hostlistShift(handle) {
            hosts.append(String(cString: host))
            free(host)
        }
        return hosts
    }

    /// Slurm's compact form of `hosts` (`n[1-3,7]`); nil when libslurm gives none.
    func compact(_ hosts: [String]) -> String? {
        guard let handle = hostlistCreate(nil) else { return nil }
        defer { hostlistDestroy(handle) }
        for host in hosts {
            _ = hostlistPushHost(handle, host)
        }
        // The buffer form exists in every version; -1 means it was too short.
        var capacity = 4096
        while capacity <= 1 << 24 {
            var buffer = [CChar](repeating: 0, count: capacity)
            if hostlistRanged(handle, capacity, &buffer) >= 0 {
                return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            capacity *= 4
        }
        return nil
    }
}

// MARK: - Node records

extension LibSlurm {
    private static let initialized = Locked(false)

    /// Every node record of the controller, as libslurm prints them (`scontrol show node -o`'s text).
    /// `config` must be a readable slurm.conf: slurm_init() ends the process when it finds none.
    func nodeRecords(config: String) throws(Failure) -> [String: SlurmNodeRecord] {
        Self.initialized.withLock { done in
            if !done {
                initialize(config)
                done = true
            }
        }
        var message: UnsafeMutablePointer<node_info_msg_t>?
        errno = 0
        guard loadNode(0, &message, UInt16(SHOW_ALL)) == 0, let message else {
            // libslurm sets errno to a Slurm error code (slurm_get_errno, gone in 24.11, only read it).
            let code = errno
            let reason = strerror(code).map { String(cString: $0) } ?? "error \(code)"
            throw Failure.environment(
                "cannot read node records from Slurm's controller: \(reason)",
                hint: "check that slurmctld is reachable from this node (scontrol ping), or use --address-from dns")
        }
        defer { freeNodeInfo(message) }
        var buffer: UnsafeMutablePointer<CChar>?
        var size = 0
        guard let stream = open_memstream(&buffer, &size) else {
            throw Failure(.runtime, "cannot capture Slurm's node records: \(String(cString: Glibc.strerror(errno)))")
        }
        printNodeInfo(stream, message, 1)
        fclose(stream)
        defer { free(buffer) }
        return SlurmNodeRecord.parse(oneLiners: buffer.map { String(cString: $0) } ?? "")
    }
}

extension SlurmNodeRecord {
    /// Reads `scontrol show node -o` text: one node per line, `Key=value` words. Values such as OS= and
    /// Reason= hold spaces and free text, so only the first NodeName=, NodeAddr= and NodeHostName= of a
    /// line count (Slurm prints them before any free text).
    public static func parse(oneLiners text: String) -> [String: SlurmNodeRecord] {
        var records: [String: SlurmNodeRecord] = [:]
        for line in text.split(separator: "\n") {
            var fields: [String: String] = [:]
            for word in line.split(separator: " ") {
                for key in ["NodeName", "NodeAddr", "NodeHostName"] where fields[key] == nil && word.hasPrefix(key + "=") {
                    fields[key] = String(word.dropFirst(key.count + 1))
                }
            }
            guard let name = fields["NodeName"], !name.isEmpty else { continue }
            let address = fields["NodeAddr"].flatMap { $0.isEmpty ? nil : $0 } ?? name
            let hostname = fields["NodeHostName"].flatMap { $0.isEmpty ? nil : $0 } ?? name
            records[name] = SlurmNodeRecord(name: name, address: address, hostname: hostname)
        }
        return records
    }
}
