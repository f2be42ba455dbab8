import Testing

@testable import SlurmDistil
import TestSupport

@Suite struct ProfileTests {
    @Test func readsSettingsWithTheirLines() throws {
        let text = """
            partition: gpu
            account: proj42
            nodes: 4
            exclusive: true
            modules: [cuda/12.4, gcc]
            env:
              HF_HUB_OFFLINE: "1"
              HF_TOKEN:
            """
        let settings = try Profile.parse(text, path: "slurm-distil.yaml")
        #expect(settings[.partition] == Setting(.text("gpu"), from: .profile(path: "slurm-distil.yaml", line: 1)))
        #expect(settings[.nodes]?.value == .integer(4))
        #expect(settings[.exclusive]?.value == .flag(true))
        #expect(settings[.modules]?.value == .list(["cuda/12.4", "gcc"]))
        #expect(settings[.env]?.value == .list(["HF_HUB_OFFLINE=1", "HF_TOKEN"]))
        #expect(settings[.account]?.source == .profile(path: "slurm-distil.yaml", line: 2))
    }

    @Test func readsRequeueSettingsIntoARequest() throws {
        let profile = try Profile.parse("requeue: true\nmax_restarts: 3\non_node_loss: requeue\n", path: "site.yaml")
        #expect(profile[.requeue] == Setting(.flag(true), from: .profile(path: "site.yaml", line: 1)))
        #expect(profile[.maxRestarts] == Setting(.integer(3), from: .profile(path: "site.yaml", line: 2)))
        #expect(profile[.onNodeLoss] == Setting(.text("requeue"), from: .profile(path: "site.yaml", line: 3)))
        let request = try SbatchRequest(settings: Settings.builtInDefaults.overridden(by: profile), entrypoint: nil, defaultLauncher: "sd")
        #expect(request.requeue && request.maxRestarts == 3 && request.onNodeLoss == .requeue)
        #expect(request.bootstrapArguments == ["--max-restarts", "3", "--on-node-loss", "requeue"])
        // A flag overrides the profile's value.
        let flags = Settings([.maxRestarts: Setting(.integer(5), from: .flag("--max-restarts"))])
        let overridden = try SbatchRequest(
            settings: Settings.builtInDefaults.overridden(by: profile).overridden(by: flags), entrypoint: nil, defaultLauncher: "sd")
        #expect(overridden.bootstrapArguments == ["--max-restarts", "5", "--on-node-loss", "requeue"])
        let plain = try SbatchRequest(settings: Settings.builtInDefaults, entrypoint: nil, defaultLauncher: "sd")
        #expect(!plain.requeue && plain.maxRestarts == 0 && plain.onNodeLoss == .fail && plain.bootstrapArguments.isEmpty)
    }

    @Test func unknownKeyIsReportedWithItsLine() {
        expectFailure(.usage, containing: "p.yaml:3: unknown profile key 'partion'") {
            _ = try Profile.parse("nodes: 2\naccount: a\npartion: gpu\n", path: "p.yaml")
        }
    }

    @Test func wrongTypesAreReported() {
        expectFailure(.usage, containing: "p.yaml:1: 'nodes' must be a whole number") {
            _ = try Profile.parse("nodes: two\n", path: "p.yaml")
        }
        expectFailure(.usage, containing: "'modules' must be a list") {
            _ = try Profile.parse("modules: {a: b}\n", path: "p.yaml")
        }
        expectFailure(.usage, containing: "'exclusive' must be true or false") {
            _ = try Profile.parse("exclusive: maybe\n", path: "p.yaml")
        }
        expectFailure(.usage, containing: "p.yaml:1: 'requeue' must be true or false") {
            _ = try Profile.parse("requeue: sometimes\n", path: "p.yaml")
        }
        expectFailure(.usage, containing: "p.yaml:2: 'max_restarts' must be a whole number") {
            _ = try Profile.parse("nodes: 2\nmax_restarts: many\n", path: "p.yaml")
        }
        expectFailure(.usage, containing: "'on_node_loss' must be a single value") {
            _ = try Profile.parse("on_node_loss: [fail]\n", path: "p.yaml")
        }
    }

    @Test func brokenYamlAndNonMappingsAreRefused() {
        expectFailure(.usage, containing: "is not valid YAML") { _ = try Profile.parse("a: [1, 2\n", path: "p.yaml") }
        expectFailure(.usage, containing: "must be a mapping") { _ = try Profile.parse("- a\n- b\n", path: "p.yaml") }
    }

    @Test func emptyProfileIsEmpty() throws {
        #expect(try Profile.parse("", path: "p.yaml") == Settings())
    }

    @Test func flagsOverrideProfileAndReportSaysWhere() throws {
        let profile = try Profile.parse("partition: gpu\ntime: '1:00:00'\n", path: "slurm-distil.yaml")
        let flags = Settings([.time: Setting(.text("0:30:00"), from: .flag("--time"))])
        let merged = Settings.builtInDefaults.overridden(by: profile).overridden(by: flags)
        let report = merged.report()
        #expect(report.contains("time"))
        #expect(report.contains("0:30:00"))
        #expect(report.contains("(--time)"))
        #expect(report.contains("(slurm-distil.yaml:1)"))
        #expect(report.contains("(default)"))
        #expect(!report.contains("1:00:00"))
    }

    @Test func reportListsTheRequeueSettingsWithTheirSources() throws {
        let defaults = Settings.builtInDefaults.report()
        for line in ["requeue      = false", "max_restarts = 0", "on_node_loss = fail"] {
            #expect(defaults.split(separator: "\n").contains { $0.hasPrefix(line) && $0.hasSuffix("(default)") }, "missing: \(line)")
        }
        let profile = try Profile.parse("max_restarts: 3\non_node_loss: requeue\n", path: "slurm-distil.yaml")
        let flags = Settings([.requeue: Setting(.flag(true), from: .flag("--requeue"))])
        let report = Settings.builtInDefaults.overridden(by: profile).overridden(by: flags).report()
        let rows = report.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(rows.contains(["requeue", "=", "true", "(--requeue)"]), "\(report)")
        #expect(rows.contains(["max_restarts", "=", "3", "(slurm-distil.yaml:1)"]), "\(report)")
        #expect(rows.contains(["on_node_loss", "=", "requeue", "(slurm-distil.yaml:2)"]), "\(report)")
    }

    @Test func loaderPrefersWorkingDirectoryThenXdg() throws {
        let files = MemoryFileSystem(files: [
            "/work/slurm-distil.yaml": "partition: here\n",
            "/cfg/slurm-distil/config.yaml": "partition: xdg\n",
        ])
        let loader = ProfileLoader(files: files)
        let environment = ["XDG_CONFIG_HOME": "/cfg"]
        #expect(try loader.load(explicitPath: nil, disabled: false, workingDirectory: "/work", environment: environment)[.partition]?.value == .text("here"))
        #expect(try loader.load(explicitPath: nil, disabled: false, workingDirectory: "/elsewhere", environment: environment)[.partition]?.value == .text("xdg"))
        #expect(try loader.load(explicitPath: nil, disabled: true, workingDirectory: "/work", environment: environment) == Settings())
        expectFailure(.usage, containing: "does not exist") {
            _ = try loader.load(explicitPath: "/nope.yaml", disabled: false, workingDirectory: "/work", environment: environment)
        }
    }
}
