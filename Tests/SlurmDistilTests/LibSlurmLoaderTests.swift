import Foundation
import Testing

@testable import SlurmDistil
import TestSupport

/// A loader that has only the libraries it is given, each with the symbols it is given; it records
/// what was asked for, in order.
final class FakeLoader: SharedLibraryLoader {
    var libraries: [String: Set<String>]
    var refusals: [String: String]
    private(set) var opened: [String] = []
    private(set) var closed: [String] = []
    private var handles: [Int: String] = [:]

    init(libraries: [String: Set<String>] = [:], refusals: [String: String] = [:]) {
        self.libraries = libraries
        self.refusals = refusals
    }

    func open(_ name: String) -> Result<UnsafeMutableRawPointer, SharedLibraryLoadError> {
        opened.append(name)
        if let reason = refusals[name] { return .failure(SharedLibraryLoadError(reason)) }
        guard libraries[name] != nil else {
            return .failure(SharedLibraryLoadError("\(name): cannot open shared object file: No such file or directory"))
        }
        let id = opened.count
        handles[id] = name
        return .success(UnsafeMutableRawPointer(bitPattern: id)!)
    }

    func symbol(_ name: String, in library: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
        guard let file = handles[Int(bitPattern: library)], libraries[file]?.contains(name) == true else { return nil }
        // Never called: the tests only check which library was chosen.
        return UnsafeMutableRawPointer(bitPattern: 0x1000)
    }

    func close(_ library: UnsafeMutableRawPointer) {
        closed.append(handles[Int(bitPattern: library)] ?? "?")
    }
}

@Suite struct LibSlurmLoaderTests {
    static let complete = Set(LibSlurm.symbols)
    static func noScontrol(_ path: String) -> Bool { false }

    @Test func triesTheUnversionedNameThenNewestToOldest() throws {
        let loader = FakeLoader(libraries: ["libslurm.so.41": Self.complete])
        let library = try LibSlurm.load(environment: ["PATH": "/usr/bin"], loader: loader, isExecutable: Self.noScontrol)
        #expect(library.path == "libslurm.so.41")
        #expect(loader.opened == ["libslurm.so", "libslurm.so.43", "libslurm.so.42", "libslurm.so.41"])
    }

    @Test func theUnversionedNameWinsWhenPresent() throws {
        let loader = FakeLoader(libraries: ["libslurm.so": Self.complete, "libslurm.so.38": Self.complete])
        #expect(try LibSlurm.load(environment: [:], loader: loader, isExecutable: Self.noScontrol).path == "libslurm.so")
        #expect(loader.opened == ["libslurm.so"])
    }

    @Test func everyVersionFrom22_05On() {
        #expect(LibSlurmSearch.versionedNames == (38...43).reversed().map { "libslurm.so.\($0)" })
    }

    @Test func looksBesideScontrolAfterTheLoadersPath() throws {
        let loader = FakeLoader(libraries: ["/opt/slurm/lib/libslurm.so": Self.complete])
        let library = try LibSlurm.load(
            environment: ["PATH": "/usr/local/bin:/opt/slurm/bin:/usr/bin"], loader: loader,
            isExecutable: { $0 == "/opt/slurm/bin/scontrol" })
        #expect(library.path == "/opt/slurm/lib/libslurm.so")
        #expect(Array(loader.opened.suffix(2)) == ["/opt/slurm/lib64/libslurm.so", "/opt/slurm/lib/libslurm.so"])
        #expect(loader.opened.count == 1 + LibSlurmSearch.versionedNames.count + 2)
    }

    @Test func theEnvironmentVariableNamesTheOnlyFile() throws {
        let loader = FakeLoader(libraries: ["/site/libslurm.so.99": Self.complete, "libslurm.so": Self.complete])
        let library = try LibSlurm.load(
            environment: ["SLURM_DISTIL_LIBSLURM": "/site/libslurm.so.99"], loader: loader, isExecutable: Self.noScontrol)
        #expect(library.path == "/site/libslurm.so.99")
        #expect(loader.opened == ["/site/libslurm.so.99"])
    }

    @Test func aLibraryWithoutEverySymbolIsPassedOver() throws {
        let loader = FakeLoader(libraries: [
            "libslurm.so": Self.complete.subtracting(["slurm_init"]), "libslurm.so.42": Self.complete,
        ])
        #expect(try LibSlurm.load(environment: [:], loader: loader, isExecutable: Self.noScontrol).path == "libslurm.so.42")
        #expect(loader.closed == ["libslurm.so"])
    }

    @Test func notFoundSaysWhatWasLookedForAndWhere() {
        let loader = FakeLoader(refusals: ["libslurm.so.40": "libslurm.so.40: wrong ELF class: ELFCLASS32"])
        do {
            _ = try LibSlurm.load(
                environment: ["LD_LIBRARY_PATH": "/x/lib", "PATH": "/opt/slurm/bin"], loader: loader,
                isExecutable: { $0 == "/opt/slurm/bin/scontrol" })
            Issue.record("loaded a library that does not exist")
        } catch {
            #expect(error.kind == .environment)
            for fragment in [
                "libslurm (Slurm's client library) was not found", "libslurm.so, libslurm.so.43 ... libslurm.so.38", "LD_LIBRARY_PATH=/x/lib", "/etc/ld.so.cache",
                "/opt/slurm/lib64/libslurm.so, /opt/slurm/lib/libslurm.so beside scontrol", "libslurm.so.40: wrong ELF class",
            ] {
                #expect(error.message.contains(fragment), "\(fragment) not in: \(error.message)")
            }
            // Files that are simply absent are not listed one by one.
            #expect(!error.message.contains("No such file"))
            #expect(error.hint?.contains("SLURM_DISTIL_LIBSLURM=") == true)
            #expect(error.hint?.contains("gen-sbatch and the Jobs commands do not") == true)
        }
    }

    @Test func anUnloadableExplicitFileIsNamed() {
        let loader = FakeLoader(refusals: ["/site/libslurm.so": "/site/libslurm.so: undefined symbol: munge_encode"])
        expectFailure(.environment, containing: "SLURM_DISTIL_LIBSLURM=/site/libslurm.so\n  /site/libslurm.so: undefined symbol: munge_encode") {
            _ = try LibSlurm.load(environment: ["SLURM_DISTIL_LIBSLURM": "/site/libslurm.so"], loader: loader, isExecutable: Self.noScontrol)
        }
        expectFailure(.environment, containing: "SLURM_DISTIL_LIBSLURM=/none.so: no such file") {
            _ = try LibSlurm.load(environment: ["SLURM_DISTIL_LIBSLURM": "/none.so"], loader: FakeLoader(), isExecutable: Self.noScontrol)
        }
    }

    @Test func theRealLoaderFindsThisMachinesLibslurm() throws {
        // The build machine has libslurm-dev: the same search the binary makes must find it.
        let library = try LibSlurm.load(environment: [:], loader: DynamicLoader()) { access($0, X_OK) == 0 }
        #expect(library.path.hasPrefix("libslurm.so"))
        #expect(library.expand("n[1-2]") == ["n1", "n2"])
    }
}

@Suite struct NodeRecordTextTests {
    @Test func readsNodeAddrAndHostnameFromOneLiners() {
        // As slurm_print_node_info_msg prints them (22.05 and 24.11 alike), header line included.
        let text = """
            Node data as of 2026-12-06T00:10:00, record count 2
            NodeName=n1 Arch=x86_64 CoresPerSocket=1 CPUAlloc=0 CPUEfctv=2 CPUTot=2 CPULoad=0.10 AvailableFeatures=(null) ActiveFeatures=(null) Gres=gpu:2 NodeAddr=10.213.77.11 NodeHostName=n1 Version=22.05.8 OS=Linux 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) RealMemory=1000 State=IDLE Reason=NodeAddr=evil [root@2026]
            NodeName=gpu7 Arch=x86_64 NodeAddr=gpu7-ib NodeHostName=gpu7.example.org Version=24.11.5 State=IDLE

            """
        let records = SlurmNodeRecord.parse(oneLiners: text)
        #expect(records.count == 2)
        #expect(records["n1"] == SlurmNodeRecord(name: "n1", address: "10.213.77.11", hostname: "n1"))
        #expect(records["gpu7"] == SlurmNodeRecord(name: "gpu7", address: "gpu7-ib", hostname: "gpu7.example.org"))
    }

    @Test func missingFieldsFallBackToTheNodeName() {
        let records = SlurmNodeRecord.parse(oneLiners: "NodeName=n3 State=DOWN\ngarbage line\n")
        #expect(records == ["n3": SlurmNodeRecord(name: "n3", address: "n3", hostname: "n3")])
    }
}
