import Foundation
import Testing

@testable import SlurmDistil
import TestSupport

let launcher = "/opt/slurm-distil/bin/slurm-distil"

func render(_ pairs: [SettingKey: SettingValue], entrypoint: [String]?, template: String = "sbatch") throws -> String {
    let request = try SbatchRequest(settings: settings(pairs), entrypoint: entrypoint, defaultLauncher: launcher)
    return try SbatchRenderer.render(
        request, template: SbatchRenderer.builtInTemplates[template]!, templateName: template, version: "TEST")
}

/// Compares with a file in Golden/; UPDATE_GOLDEN=1 rewrites it instead.
func expectGolden(_ text: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let url = PackagePaths.golden.appending(path: name)
    if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
        try text.write(to: url, atomically: true, encoding: .utf8)
        return
    }
    let expected = try String(contentsOf: url, encoding: .utf8)
    #expect(text == expected, "differs from Golden/\(name); UPDATE_GOLDEN=1 rewrites it", sourceLocation: sourceLocation)
}

func bashSyntaxCheck(_ script: String) throws -> ProcessResult {
    try runProcess("/bin/bash", ["-n"], input: script)
}

@Suite struct SbatchRenderTests {
    @Test func designCardCallWithoutEntrypoint() throws {
        let script = try render([.nodes: .integer(2), .gpusPerNode: .integer(1)], entrypoint: nil)
        try expectGolden(script, "design-card.sh")
        #expect(try bashSyntaxCheck(script).status == 0)
        #expect(script.contains(#"exec \#(launcher) bootstrap -- "$@""#))
        #expect(script.contains(#"if [ "$#" -eq 0 ]"#))
    }

    @Test func fullRequest() throws {
        let script = try render(
            [
                .nodes: .integer(3), .gpusPerNode: .integer(4), .cpusPerTask: .integer(16), .memory: .text("64G"),
                .time: .text("1-12"), .partition: .text("gpu"), .qos: .text("high"), .account: .text("proj42"),
                .constraint: .text("a100&ib"), .exclusive: .flag(true), .jobName: .text("distil-run"),
                .error: .text("logs/%x-%j.err"), .signalLead: .text("5m"), .venv: .text("/shared/envs/ray"),
                .modules: .list(["cuda/12.4", "gcc/12"]), .env: .list(["HF_HUB_OFFLINE=1", "HF_TOKEN"]),
                .chdir: .text("/shared/project"), .workingDir: .text("."), .runtimeEnv: .text("runtime_env.yaml"),
                .bootstrapArgs: .list(["--object-store-memory", "2G"]), .sbatchArgs: .list(["--mail-type=END"]),
            ], entrypoint: ["python", "-u", "pipeline.py", "--rows", "1000"])
        try expectGolden(script, "full.sh")
        #expect(try bashSyntaxCheck(script).status == 0)
        for line in [
            "#SBATCH --nodes=3", "#SBATCH --gpus-per-node=4", "#SBATCH --time=1-12:00:00", "#SBATCH --signal=B:TERM@300",
            "#SBATCH --exclusive", "#SBATCH --mail-type=END", "module load cuda/12.4 gcc/12", "source /shared/envs/ray/bin/activate",
        ] {
            #expect(script.contains(line + "\n"), "missing line: \(line)")
        }
    }

    static let requeueLines = "#SBATCH --requeue\n#SBATCH --open-mode=append\n"

    @Test func withoutRequeueSettingsTheScriptIsUnchanged() throws {
        for template in ["sbatch", "sbatch-srun"] {
            let script = try render([.nodes: .integer(2)], entrypoint: ["python", "x.py"], template: template)
            #expect(!script.contains("--requeue") && !script.contains("--open-mode"), "\(template)")
            #expect(!script.contains("--max-restarts") && !script.contains("--on-node-loss"), "\(template)")
            // The built-in defaults given explicitly change nothing either.
            let defaults = try render(
                [.nodes: .integer(2), .requeue: .flag(false), .maxRestarts: .integer(0), .onNodeLoss: .text("fail")],
                entrypoint: ["python", "x.py"], template: template)
            #expect(defaults == script, "\(template)")
        }
        #expect(try render([:], entrypoint: ["x"]).contains("exec \(launcher) bootstrap -- x\n"))
    }

    @Test func requeueMakesTheJobRequeueableAndAppendsToItsOutput() throws {
        for template in ["sbatch", "sbatch-srun"] {
            let script = try render([.requeue: .flag(true)], entrypoint: ["python", "x.py"], template: template)
            #expect(script.contains("\n" + Self.requeueLines), "\(template)")
            #expect(try bashSyntaxCheck(script).status == 0)
            #expect(!script.contains("--max-restarts"), "--requeue alone lets Slurm requeue, bootstrap does not")
        }
        let script = try render([.requeue: .flag(true)], entrypoint: ["python", "x.py"])
        #expect(script.contains("#SBATCH --signal=B:TERM@120\n" + Self.requeueLines))
        #expect(script.hasSuffix("exec \(launcher) bootstrap -- python x.py\n"))
    }

    @Test func maxRestartsImpliesRequeueAndReachesBootstrap() throws {
        let script = try render([.maxRestarts: .integer(3)], entrypoint: ["python", "x.py"])
        #expect(script.contains("\n" + Self.requeueLines))
        #expect(script.hasSuffix("exec \(launcher) bootstrap --max-restarts 3 -- python x.py\n"))
        #expect(try bashSyntaxCheck(script).status == 0)
        let srun = try render([.maxRestarts: .integer(3)], entrypoint: ["hostname"], template: "sbatch-srun")
        #expect(srun.contains("\n" + Self.requeueLines))
        // At submission, and after the other bootstrap options, before the user's own.
        let reusable = try render(
            [
                .maxRestarts: .integer(100), .onNodeLoss: .text("requeue"), .workingDir: .text("."),
                .bootstrapArgs: .list(["--object-store-memory", "2G"]),
            ], entrypoint: nil)
        #expect(reusable.contains("\n" + Self.requeueLines))
        #expect(reusable.hasSuffix(
            #"exec \#(launcher) bootstrap --working-dir . --max-restarts 100 --on-node-loss requeue --object-store-memory 2G -- "$@""# + "\n"))
    }

    @Test func onNodeLossRequeueReachesBootstrap() throws {
        let script = try render([.maxRestarts: .integer(2), .onNodeLoss: .text("requeue")], entrypoint: ["python", "x.py"])
        #expect(script.contains("\n" + Self.requeueLines))
        #expect(script.hasSuffix("exec \(launcher) bootstrap --max-restarts 2 --on-node-loss requeue -- python x.py\n"))
        let request = try SbatchRequest(
            settings: settings([.maxRestarts: .integer(2), .onNodeLoss: .text("requeue")]), entrypoint: nil, defaultLauncher: launcher)
        #expect(request.requeue && request.maxRestarts == 2 && request.onNodeLoss == .requeue)
        let failing = try render([.maxRestarts: .integer(2), .onNodeLoss: .text("fail")], entrypoint: ["x"])
        #expect(failing.hasSuffix("bootstrap --max-restarts 2 -- x\n"), "fail is bootstrap's default: not passed")
    }

    @Test func everyBuiltInTemplateRendersValidBash() throws {
        for name in SbatchRenderer.builtInTemplates.keys {
            for entrypoint in [nil, ["python", "x.py"]] as [[String]?] {
                let script = try render([.nodes: .integer(2), .gpusPerNode: .integer(1), .condaEnv: .text("ray")], entrypoint: entrypoint, template: name)
                let check = try bashSyntaxCheck(script)
                #expect(check.status == 0, "\(name): \(check.stderr)")
                #expect(!script.contains("&amp;") && !script.contains("&#"), "\(name) rendered HTML escapes")
            }
        }
    }

    /// Every built-in template with and without each optional set-up part, with and without a command:
    /// valid bash, never two blank lines in a row, the set-up parts changing nothing above `set -e`. The golden file
    /// holds each combination from `set -euo pipefail` on.
    @Test func everyCombinationOfOptionalParts() throws {
        for name in SbatchRenderer.builtInTemplates.keys.sorted() {
            var golden = "# \(name): every combination of the optional set-up parts, from `set -euo pipefail` on\n"
            var headers: [Bool: String] = [:]
            for python in ["", "venv", "conda"] {
                for modules in [false, true] {
                    for env in [false, true] {
                        for chdir in [false, true] {
                            for entrypoint in [nil, ["python", "-u", "pipeline.py"]] as [[String]?] {
                                var pairs: [SettingKey: SettingValue] = [.nodes: .integer(2), .time: .text("1:00:00")]
                                if python == "venv" { pairs[.venv] = .text("/shared/envs/ray") }
                                if python == "conda" { pairs[.condaEnv] = .text("ray") }
                                if modules { pairs[.modules] = .list(["cuda/12.4", "gcc/12"]) }
                                if env { pairs[.env] = .list(["HF_HUB_OFFLINE=1", "HF_TOKEN"]) }
                                if chdir { pairs[.chdir] = .text("/shared/project") }
                                let label = [
                                    python.isEmpty ? nil : python, modules ? "modules" : nil, env ? "env" : nil, chdir ? "chdir" : nil,
                                    entrypoint == nil ? "command at submission" : "command",
                                ].compactMap { $0 }.joined(separator: ", ")
                                let script = try render(pairs, entrypoint: entrypoint, template: name)
                                #expect(!script.contains("\n\n\n"), "\(name), \(label): two blank lines in a row")
                                #expect(!script.hasSuffix("\n\n"), "\(name), \(label): ends with a blank line")
                                let check = try bashSyntaxCheck(script)
                                #expect(check.status == 0, "\(name), \(label): \(check.stderr)")
                                let parts = script.components(separatedBy: "set -euo pipefail\n")
                                try #require(parts.count == 2, "\(name), \(label): one `set -euo pipefail` line")
                                let given = entrypoint != nil
                                #expect(headers[given] == nil || headers[given] == parts[0], "\(name), \(label): the header changed")
                                headers[given] = parts[0]
                                golden += "\n=== \(label) ===\nset -euo pipefail\n" + parts[1]
                            }
                        }
                    }
                }
            }
            try expectGolden(golden, "\(name)-combinations.txt")
        }
    }

    /// Runs the generated script for real (without sbatch): the launcher it execs is a recorder, so the
    /// test sees the exact words and environment the script produced from hostile values.
    @Test func hostileValuesReachTheLauncherExactly() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let record = directory.appending(path: "argv").path
        // A venv and a working folder whose names are themselves hostile.
        let venv = directory.appending(path: "venv $(touch pwned) 'q'").path
        try FileManager.default.createDirectory(atPath: venv + "/bin", withIntermediateDirectories: true)
        try "export VENV_SEEN=yes\n".write(toFile: venv + "/bin/activate", atomically: true, encoding: .utf8)
        let chdir = directory.appending(path: "work `id` dir").path
        try FileManager.default.createDirectory(atPath: chdir, withIntermediateDirectories: true)
        // The launcher is bash reading a script named `bootstrap` in the folder the job changes to: a
        // freshly written file that is exec'd itself fails now and then with ETXTBSY while parallel
        // tests spawn processes that inherited its descriptor.
        try """
            printf '%s\\0' "$0" "$@" > \(ShellQuoting.quote(record))
            printf '%s\\0' "$HOSTILE" "$PWD" "$VENV_SEEN" >> \(ShellQuoting.quote(record))
            """.write(toFile: chdir + "/bootstrap", atomically: true, encoding: .utf8)

        for value in hostileValues {
            let script = try render(
                [
                    .launcher: .text("/bin/bash"), .venv: .text(venv), .chdir: .text(chdir),
                    .env: .list(["HOSTILE=" + value]), .bootstrapArgs: .list(["--x", value]),
                ], entrypoint: ["python", value, "end"])
            let result = try runProcess("/bin/bash", ["-s"], input: script, directory: directory)
            #expect(result.status == 0, "\(value.debugDescription): \(result.stderr)")
            let words = try String(contentsOfFile: record, encoding: .utf8)
                .split(separator: "\0", omittingEmptySubsequences: false).dropLast().map(String.init)
            #expect(words == ["bootstrap", "--x", value, "--", "python", value, "end", value, chdir, "yes"], "\(value.debugDescription)")
            #expect(!FileManager.default.fileExists(atPath: directory.appending(path: "pwned").path))
        }
    }

    @Test func scriptWithoutEntrypointRunsTheSubmittedCommandOrStops() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = try render([.launcher: .text("/bin/echo")], entrypoint: nil)
        let path = directory.appending(path: "job.sh").path
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        let given = try runProcess("/bin/bash", [path, "python", "-u", "a b.py"])
        #expect(given.status == 0)
        #expect(given.stdout == "bootstrap -- python -u a b.py\n")
        let missing = try runProcess("/bin/bash", [path])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no pipeline command was given"))
        #expect(missing.stderr.contains("sbatch"))
    }

    @Test func inheritedVariableMustBeSet() throws {
        let script = try render([.launcher: .text("/bin/true"), .env: .list(["SD_TEST_SECRET"])], entrypoint: ["x"])
        #expect(!script.contains("s3cr3t"))
        var environment = ProcessInfo.processInfo.environment
        environment["SD_TEST_SECRET"] = nil
        let unset = try runProcess("/bin/bash", ["-s"], input: script, environment: environment)
        #expect(unset.status == 2)
        #expect(unset.stderr.contains("SD_TEST_SECRET must be set"))
        environment["SD_TEST_SECRET"] = "s3cr3t"
        #expect(try runProcess("/bin/bash", ["-s"], input: script, environment: environment).status == 0)
    }

    @Test func userTemplateWithUnknownVariableIsRefused() throws {
        let request = try SbatchRequest(settings: settings([:]), entrypoint: ["x"], defaultLauncher: launcher)
        expectFailure(.usage, containing: "line 2 uses 'gpuCount'") {
            _ = try SbatchRenderer.render(request, template: "#!/bin/bash\n#SBATCH -G {{{gpuCount}}}\n", templateName: "my.mustache", version: "T")
        }
        expectFailure(.usage, containing: "uses 'nope'") {
            _ = try SbatchRenderer.render(request, template: "{{#nope}}x{{/nope}}", templateName: "t", version: "T")
        }
        let fine = try SbatchRenderer.render(
            request, template: "#!/bin/bash\n{{#gpusPerNode}}#SBATCH -G {{{gpusPerNode}}}\n{{/gpusPerNode}}run {{launcher}}{{#entrypoint}} {{.}}{{/entrypoint}}\n",
            templateName: "t", version: "T")
        #expect(fine == "#!/bin/bash\nrun \(launcher) x\n")
    }
}

@Suite struct SbatchRequestTests {
    @Test(arguments: [
        ([SettingKey.nodes: SettingValue.integer(0)], "invalid value '0'"),
        ([.gpusPerNode: .integer(-1)], "invalid value '-1'"),
        ([.cpusPerTask: .integer(0)], "invalid value '0'"),
        ([.time: .text("2 hours")], "invalid time limit"),
        ([.memory: .text("lots")], "invalid value 'lots'"),
        ([.jobName: .text("my job")], "invalid value 'my job'"),
        ([.jobName: .text("a\nb")], "invalid value 'a\\u{a}b'"),
        ([.partition: .text("gpu;rm -rf /")], "invalid value"),
        ([.account: .text("")], "invalid value ''"),
        ([.output: .text("$HOME/out")], "invalid value"),
        ([.sbatchArgs: .list(["mail-type=END"])], "invalid value 'mail-type=END'"),
        ([.sbatchArgs: .list(["--comment=a b"])], "invalid value"),
        ([.env: .list(["1BAD=x"])], "invalid value '1BAD=x'"),
        ([.env: .list(["=x"])], "invalid value '=x'"),
        ([.modules: .list(["cuda\n/12"])], "invalid value"),
        ([.venv: .text("/a\nb")], "invalid value"),
        ([.signalLead: .text("soon")], "invalid duration"),
        ([.signalLead: .text("70000")], "invalid value '70000'"),
        ([.time: .text("1:00"), .signalLead: .text("120")], "is not shorter than the time limit"),
        ([.time: .text("2"), .signalLead: .text("2m")], "is not shorter than the time limit"),
        ([.signalLead: .text("0")], "invalid value '0'"),
        ([.signalLead: .text("0m")], "invalid value '0m'"),
        ([.venv: .text("/v"), .condaEnv: .text("c")], "both a venv"),
        ([.maxRestarts: .integer(-1)], "invalid value '-1'"),
        ([.maxRestarts: .integer(101)], "invalid value '101'"),
        ([.maxRestarts: .text("three")], "invalid value 'three'"),
        ([.onNodeLoss: .text("restart")], "invalid value 'restart'"),
        ([.onNodeLoss: .text("Requeue")], "invalid value 'Requeue'"),
        ([.onNodeLoss: .text("requeue")], "--on-node-loss requeue needs --max-restarts N (N > 0): each requeue counts as a restart"),
        ([.onNodeLoss: .text("requeue"), .maxRestarts: .integer(0), .requeue: .flag(true)], "needs --max-restarts N (N > 0)"),
    ])
    func refusesBadInput(pairs: [SettingKey: SettingValue], fragment: String) {
        expectFailure(.usage, containing: fragment) {
            _ = try SbatchRequest(settings: settings(pairs), entrypoint: ["x"], defaultLauncher: launcher)
        }
    }

    @Test func warnsOnlyWhenThePartitionDecidesTheLimitOfAScriptThatSignals() throws {
        let sbatch = SbatchRenderer.builtInTemplates["sbatch"]!
        let untimed = try SbatchRequest(settings: settings([.signalLead: .text("5m")]), entrypoint: nil, defaultLauncher: launcher)
        let warnings = SbatchRenderer.warnings(for: untimed, template: sbatch)
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("no --time given") == true)
        #expect(warnings.first?.contains("300 s before it") == true)
        let timed = try SbatchRequest(settings: settings([.time: .text("1:00:00")]), entrypoint: nil, defaultLauncher: launcher)
        #expect(SbatchRenderer.warnings(for: timed, template: sbatch).isEmpty)
        // sbatch-srun sends no signal, so its lead cannot be wrong.
        #expect(SbatchRenderer.warnings(for: untimed, template: SbatchRenderer.builtInTemplates["sbatch-srun"]!).isEmpty)
        #expect(SbatchRenderer.warnings(for: untimed, template: "#!/bin/bash\n{{! signalLead }}\n").isEmpty)
    }

    @Test func refusesEmptyEntrypoints() {
        expectFailure(.usage, containing: "nothing follows '--'") {
            _ = try SbatchRequest(settings: settings([:]), entrypoint: [], defaultLauncher: launcher)
        }
        expectFailure(.usage, containing: "starts with an empty word") {
            _ = try SbatchRequest(settings: settings([:]), entrypoint: ["", "x"], defaultLauncher: launcher)
        }
    }

    @Test func restartErrorsNameTheSourceAndTheFix() throws {
        func failure(_ settings: Settings) throws -> Failure {
            do {
                _ = try SbatchRequest(settings: Settings.builtInDefaults.overridden(by: settings), entrypoint: nil, defaultLauncher: launcher)
            } catch {
                return error
            }
            throw TestFailure("accepted \(settings)")
        }
        let negative = try failure(Settings([.maxRestarts: Setting(.integer(-1), from: .flag("--max-restarts"))]))
        #expect(negative.message == "invalid value '-1' for --max-restarts")
        #expect(negative.hint?.contains("give a whole number from 0 to 100") == true)
        let tooMany = try failure(Profile.parse("nodes: 2\nmax_restarts: 101\n", path: "site.yaml"))
        #expect(tooMany.message == "invalid value '101' for 'max_restarts' at site.yaml:2")
        #expect(tooMany.hint?.contains("0 to 100") == true)
        let unknown = try failure(Profile.parse("on_node_loss: retry\n", path: "site.yaml"))
        #expect(unknown.message == "invalid value 'retry' for 'on_node_loss' at site.yaml:1")
        #expect(unknown.hint?.contains("fail (") == true && unknown.hint?.contains("requeue (") == true, "names the valid values")
        let noRestarts = try failure(Profile.parse("on_node_loss: requeue\n", path: "site.yaml"))
        #expect(noRestarts.kind == .usage)
        #expect(noRestarts.message.hasPrefix("--on-node-loss requeue needs --max-restarts N (N > 0): each requeue counts as a restart"))
        #expect(noRestarts.message.contains("on_node_loss is requeue (site.yaml:1), max_restarts is 0 (default)"))
        #expect(noRestarts.hint?.contains("--max-restarts N") == true)
        let zeroGiven = try failure(
            Profile.parse("on_node_loss: requeue\n", path: "site.yaml")
                .overridden(by: Settings([.maxRestarts: Setting(.integer(0), from: .flag("--max-restarts"))])))
        #expect(zeroGiven.message.contains("on_node_loss is requeue (site.yaml:1), max_restarts is 0 (--max-restarts)"))
    }

    @Test func errorsNameTheFlagOrProfileLine() throws {
        let profile = try Profile.parse("nodes: 0\n", path: "site.yaml")
        do {
            _ = try SbatchRequest(settings: Settings.builtInDefaults.overridden(by: profile), entrypoint: nil, defaultLauncher: launcher)
            Issue.record("accepted nodes: 0")
        } catch {
            #expect(error.message.contains("'nodes' at site.yaml:1"))
        }
    }
}

/// The README repeats two lists for users; they must stay the lists the code owns.
@Suite struct ReadmeListsTests {
    func readmeWords(after marker: String) throws -> [String] {
        let readme = try String(contentsOf: PackagePaths.root.appending(path: "README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: marker)).upperBound
        let open = try #require(readme[start...].firstIndex(of: "`"))
        let close = try #require(readme[readme.index(after: open)...].firstIndex(of: "`"))
        return readme[readme.index(after: open)..<close]
            .split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "(" || $0 == ")" }).map(String.init)
    }

    @Test func templateVariablesAreTheRenderContexts() throws {
        let listed = try readmeWords(after: "The variables:")
        #expect(Set(listed) == SbatchRenderer.knownVariables)
        #expect(listed.count == SbatchRenderer.knownVariables.count, "no name listed twice")
    }

    @Test func profileKeysAreTheSettingKeys() throws {
        #expect(try readmeWords(after: "Keys:") == SettingKey.allCases.map(\.rawValue))
    }
}
