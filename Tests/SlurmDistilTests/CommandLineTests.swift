import Foundation
import Testing

@testable import SlurmDistil
import TestSupport

/// The installed binary end to end on good input (bad input: BadInputTests).
@Suite struct CommandLineTests {
    func run(_ arguments: [String], in directory: URL? = nil, environment extra: [String: String] = [:]) throws -> ProcessResult {
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_CONFIG_HOME"] = "/nonexistent"
        environment.merge(extra) { _, new in new }
        return try runProcess(PackagePaths.binary, arguments, environment: environment, directory: directory ?? temporaryDirectory())
    }

    @Test func designCardCallWritesAValidScript() throws {
        let directory = try temporaryDirectory()
        let result = try run(["gen-sbatch", "--nodes", "2", "--gpus-per-node", "1"], in: directory)
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("#!/bin/bash\n"))
        #expect(!result.stdout.contains("\n\n\n"), "no two blank lines in a row")
        #expect(result.stderr.contains("slurm-distil: warning: no --time given"), "\(result.stderr)")
        #expect(try runProcess("/bin/bash", ["-n"], input: result.stdout).status == 0)
        #expect(FileManager.default.fileExists(atPath: directory.appending(path: "slurm-distil-logs").path))
        #expect(result.stdout.contains("exec \(PackagePaths.binary.hasPrefix("/") ? "" : "")"))
    }

    @Test func showConfigSaysWhereEachValueCameFrom() throws {
        let directory = try temporaryDirectory()
        try "partition: gpu\ntime: 2:00:00\n".write(to: directory.appending(path: "slurm-distil.yaml"), atomically: true, encoding: .utf8)
        let result = try run(["gen-sbatch", "--show-config", "--time", "0:10:00"], in: directory)
        #expect(result.status == 0)
        #expect(result.stdout.contains("partition"))
        #expect(result.stdout.contains("slurm-distil.yaml:1)"))
        #expect(result.stdout.contains("0:10:00"))
        #expect(result.stdout.contains("(--time)"))
        let requeue = try run(["gen-sbatch", "--show-config", "--max-restarts", "3", "--on-node-loss", "requeue"], in: directory)
        #expect(requeue.status == 0, "\(requeue.stderr)")
        let rows = requeue.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(rows.contains(["requeue", "=", "false", "(default)"]), "\(requeue.stdout)")
        #expect(rows.contains(["max_restarts", "=", "3", "(--max-restarts)"]), "\(requeue.stdout)")
        #expect(rows.contains(["on_node_loss", "=", "requeue", "(--on-node-loss)"]), "\(requeue.stdout)")
    }

    @Test func requeueFlagsReachTheScript() throws {
        let result = try run(["gen-sbatch", "--time", "4:00:00", "--requeue", "--max-restarts", "3", "--", "python", "-u", "pipeline.py"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\n#SBATCH --requeue\n#SBATCH --open-mode=append\n"))
        #expect(result.stdout.contains(" bootstrap --max-restarts 3 -- python -u pipeline.py\n"))
        let plain = try run(["gen-sbatch", "--time", "4:00:00", "--", "python", "-u", "pipeline.py"])
        #expect(!plain.stdout.contains("--requeue") && !plain.stdout.contains("--open-mode") && !plain.stdout.contains("--max-restarts"))
    }

    @Test func outputFileIsExecutableAndUserTemplatesWork() throws {
        let directory = try temporaryDirectory()
        let template = directory.appending(path: "mine.mustache")
        try "#!/bin/bash\n#SBATCH --nodes={{{nodes}}}\nexec {{launcher}} bootstrap --{{#entrypoint}} {{.}}{{/entrypoint}}\n"
            .write(to: template, atomically: true, encoding: .utf8)
        let output = directory.appending(path: "job.sh")
        let result = try run(["gen-sbatch", "-N", "3", "--template", template.path, "-o", output.path, "--", "echo", "a b"], in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        let script = try String(contentsOf: output, encoding: .utf8)
        #expect(script.contains("#SBATCH --nodes=3\n"))
        #expect(script.hasSuffix(" bootstrap -- echo 'a b'\n"))
        let attributes = try FileManager.default.attributesOfItem(atPath: output.path)
        #expect((attributes[.posixPermissions] as? Int ?? 0) & 0o100 != 0)
    }

    @Test func repairDistilabelCacheSaysWhatItChanged() throws {
        let fixture = CacheFixture.fullBatch
        let cache = try temporaryDirectory().appending(path: "cache").path
        try fixture.copy(to: cache)
        let dryRun = try run(["_repair-distilabel-cache", "--dry-run", cache])
        #expect(dryRun.status == 0, "\(dryRun.stderr)")
        #expect(dryRun.stdout == "step 'slow' predecessor 'load': offset [2, 10] -> [3, 0]\nwould change 1 of 2 batch_manager_step.json file(s)\n")
        let repair = try run(["_repair-distilabel-cache", cache])
        #expect(repair.stdout == "step 'slow' predecessor 'load': offset [2, 10] -> [3, 0]\nchanged 1 of 2 batch_manager_step.json file(s)\n")
        #expect(try run(["_repair-distilabel-cache", cache]).stdout == "changed 0 of 2 batch_manager_step.json file(s)\n")

        try "".write(toFile: fixture.batchManager(root: cache), atomically: true, encoding: .utf8)
        let torn = try run(["_repair-distilabel-cache", cache])
        #expect(torn.status == 1)
        #expect(torn.stderr.contains("\(fixture.batchManager(root: cache)) is empty\nhint: "), "\(torn.stderr)")
    }

    @Test func hostsShowsEveryNodeThenFailsForTheOnesWithoutAnAddress() throws {
        // An address literal resolves without DNS; the reserved .invalid name never resolves.
        let arguments = ["hosts", "--nodelist", "10.0.0.7,sd-no-such-node.invalid", "--address-from", "dns"]
        let table = try run(arguments)
        #expect(table.status == 3, "\(table.stderr)")
        let rows = table.stdout.split(separator: "\n").map { $0.split(separator: " ").prefix(3).map(String.init) }
        #expect(rows.contains(["10.0.0.7", "head", "10.0.0.7"]), "\(table.stdout)")
        #expect(rows.contains(["sd-no-such-node.invalid", "worker", "NONE"]), "\(table.stdout)")
        #expect(table.stderr.hasPrefix("slurm-distil: error: node sd-no-such-node.invalid has no address: sd-no-such-node.invalid does not resolve\nhint: "), "\(table.stderr)")
        let json = try run(arguments + ["--json"])
        #expect(json.status == 3)
        let plan = try JSONDecoder().decode(HostPlan.self, from: json.stdoutData)
        #expect(plan.hosts.map(\.address) == ["10.0.0.7", nil])
        #expect(plan.hosts[1].problem?.contains("does not resolve") == true)
    }

    @Test func helpAndTemplatesList() throws {
        let help = try run(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("Exit status:"))
        for kind in ExitKind.allCases {
            #expect(help.stdout.contains("  \(kind.code)"), "the root help lists \(kind)")
        }
        let genHelp = try run(["gen-sbatch", "--help"])
        #expect(genHelp.stdout.contains("Examples"))
        #expect(genHelp.stdout.contains("--requeue --max-restarts 3"), "an example with requeue")
        for flag in ["--requeue", "--max-restarts <max-restarts>", "--on-node-loss <on-node-loss>"] {
            #expect(genHelp.stdout.contains(flag), "gen-sbatch --help shows \(flag)")
        }
        let list = try run(["templates", "list"])
        #expect(list.status == 0)
        #expect(list.stdout.contains("sbatch "))
        #expect(list.stdout.contains("sbatch-srun"))
        let show = try run(["templates", "show", "sbatch"])
        #expect(show.stdout == SbatchRenderer.builtInTemplates["sbatch"]! + (SbatchRenderer.builtInTemplates["sbatch"]!.hasSuffix("\n") ? "" : "\n"))
    }
}
