import Foundation
import Testing

@testable import SlurmDistil
import TestSupport

/// One bad input given to the installed binary: what it must answer.
struct BadInput: Sendable, CustomTestStringConvertible {
    var arguments: [String]
    var status: Int32 = 2
    var message: String
    var environment: [String: String] = [:]
    /// Files written into the (otherwise empty) folder the command runs in.
    var files: [String: String] = [:]
    /// What `prepare` builds, for the report.
    var setup = ""
    var prepare: (@Sendable (URL) throws -> Void)?

    var testDescription: String { arguments.joined(separator: " ") }

    var scenario: String {
        var text = "`" + ShellQuoting.join(["slurm-distil"] + arguments) + "`"
        for (name, content) in files.sorted(by: { $0.key < $1.key }) { text += " with \(name) = `\(content.debugDescription)`" }
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) { text += " with \(name)=`\(value)`" }
        if !setup.isEmpty { text += " (\(setup))" }
        return text
    }

    /// Nothing answers here; a command that reached the network would fail with 4, not 2.
    static let closedAddress = "http://127.0.0.1:9"
}

/// Every command, every kind of bad input: the exit code (README "Exit codes"), a message naming the
/// cause, a hint with the fix, nothing on stdout, no crash, and nothing left in the folder.
@Suite struct BadInputTests {
    static let cases: [BadInput] = [
        // gen-sbatch flags
        BadInput(arguments: ["gen-sbatch", "--time", "2h"], message: "invalid time limit '2h' (--time)"),
        BadInput(arguments: ["gen-sbatch", "--time", "0:99:00"], message: "invalid time limit"),
        BadInput(arguments: ["gen-sbatch", "--nodes", "0"], message: "invalid value '0' for --nodes"),
        BadInput(arguments: ["gen-sbatch", "--nodes", "two"], message: "'two' is invalid"),
        BadInput(arguments: ["gen-sbatch", "--mem", "lots"], message: "invalid value 'lots' for --mem"),
        BadInput(arguments: ["gen-sbatch", "--signal-lead", "99999999"], message: "invalid duration '99999999'"),
        BadInput(arguments: ["gen-sbatch", "--time", "99999999:00:00"], message: "time limit '99999999:00:00' is beyond what Slurm can take (at most 24855-03:13:08)"),
        BadInput(arguments: ["gen-sbatch", "--signal-lead", "0"], message: "invalid value '0' for --signal-lead"),
        BadInput(arguments: ["gen-sbatch", "--time", "2", "--signal-lead", "2m"], message: "the signal lead time (120 s, --signal-lead) is not shorter than the time limit"),
        BadInput(arguments: ["gen-sbatch", "--nodes", "-1"], message: "invalid value '-1' for --nodes"),
        BadInput(arguments: ["gen-sbatch", "--gpus-per-node", "-2"], message: "invalid value '-2' for --gpus-per-node"),
        BadInput(arguments: ["gen-sbatch", "--signal-lead", "-5"], message: "invalid duration '-5'"),
        BadInput(arguments: ["gen-sbatch", "--job-name", "a b"], message: "for --job-name"),
        BadInput(arguments: ["gen-sbatch", "--partition", "gpu;reboot"], message: "for --partition"),
        BadInput(arguments: ["gen-sbatch", "--sbatch-arg", "nodash"], message: "for --sbatch-arg"),
        BadInput(arguments: ["gen-sbatch", "--sbatch-arg", "--x=$(id)"], message: "for --sbatch-arg"),
        BadInput(arguments: ["gen-sbatch", "--env", "1BAD=x"], message: "for --env"),
        BadInput(arguments: ["gen-sbatch", "--env", "HF_TOKEN=hf_written_inline"], message: "HF_TOKEN looks like a secret"),
        BadInput(arguments: ["gen-sbatch", "--venv", "/v", "--conda-env", "c"], message: "both a venv (--venv) and a conda environment"),
        BadInput(arguments: ["gen-sbatch", "--max-restarts", "-1"], message: "invalid value '-1' for --max-restarts"),
        BadInput(arguments: ["gen-sbatch", "--max-restarts", "101"], message: "invalid value '101' for --max-restarts"),
        BadInput(arguments: ["gen-sbatch", "--on-node-loss", "retry"], message: "invalid value 'retry' for --on-node-loss"),
        BadInput(arguments: ["gen-sbatch", "--on-node-loss", "requeue"], message: "--on-node-loss requeue needs --max-restarts N (N > 0): each requeue counts as a restart"),
        BadInput(arguments: ["gen-sbatch", "--template", "nope"], message: "neither a built-in template nor an existing file"),
        BadInput(arguments: ["gen-sbatch", "-o", "missing/job.sh", "--", "echo"], message: "the folder missing of --output-file does not exist"),
        BadInput(arguments: ["gen-sbatch", "--"], message: "nothing follows '--'"),
        BadInput(arguments: ["gen-sbatch", "--bogus"], message: "Unknown option '--bogus'"),
        // gen-sbatch profiles
        BadInput(arguments: ["gen-sbatch", "--profile", "/nonexistent.yaml"], message: "does not exist"),
        BadInput(arguments: ["gen-sbatch", "--profile", "p.yaml"], message: "p.yaml is not valid YAML", files: ["p.yaml": "nodes: [\n"]),
        BadInput(arguments: ["gen-sbatch", "--profile", "p.yaml"], message: "p.yaml:1: 'nodes' must be a whole number", files: ["p.yaml": "nodes: two\n"]),
        BadInput(arguments: ["gen-sbatch", "--profile", "p.yaml"], message: "p.yaml:1: a profile must be a mapping", files: ["p.yaml": "- a\n"]),
        BadInput(arguments: ["gen-sbatch"], message: "slurm-distil.yaml:2: unknown profile key 'nodez'", files: ["slurm-distil.yaml": "partition: gpu\nnodez: 2\n"]),
        BadInput(arguments: ["gen-sbatch", "--profile", "p.yaml"], message: "invalid value '101' for 'max_restarts' at p.yaml:2", files: ["p.yaml": "partition: gpu\nmax_restarts: 101\n"]),
        BadInput(arguments: ["gen-sbatch", "--profile", "p.yaml"], message: "on_node_loss is requeue (p.yaml:1), max_restarts is 0 (default)", files: ["p.yaml": "on_node_loss: requeue\n"]),
        BadInput(arguments: ["gen-sbatch"], message: "HF_TOKEN looks like a secret", files: ["slurm-distil.yaml": "env: [\"HF_TOKEN=hf_in_a_profile\"]\n"]),
        BadInput(arguments: ["templates", "show", "nope"], message: "no built-in template 'nope'"),
        BadInput(arguments: ["no-such-command"], message: "Unexpected argument"),
        // host lists and interfaces
        BadInput(arguments: ["hosts", "--nodelist", "n[1-"], message: "the '[' at position 2 is never closed"),
        BadInput(arguments: ["hosts", "--nodelist", "n[3-1]"], message: "invalid node list"),
        // libslurm prints its own error above ours for a range it will not expand; the check must refuse first.
        BadInput(arguments: ["hosts", "--nodelist", "n[1-100000]"], message: "the range 1-100000 names 100000 hosts; Slurm expands at most 65536 in one range"),
        BadInput(arguments: ["hosts", "--nodelist", ""], message: "the node list is empty"),
        BadInput(arguments: ["hosts", "--nodelist", "n1", "--address-from", "bogus"], message: "unknown --address-from \"bogus\""),
        BadInput(arguments: ["hosts", "--nodelist", "n1", "--address-from", "interface"], message: "needs --interface NAME"),
        BadInput(arguments: ["hosts"], status: 3, message: "not inside a Slurm allocation"),
        // bootstrap
        BadInput(arguments: ["bootstrap"], message: "no pipeline command after '--'"),
        BadInput(arguments: ["bootstrap", "--"], message: "no pipeline command after '--'"),
        BadInput(arguments: ["bootstrap", "--", "echo"], status: 3, message: "not inside a Slurm allocation"),
        BadInput(arguments: ["bootstrap", "--ready-timeout", "soon", "--", "echo"], message: "--ready-timeout"),
        BadInput(arguments: ["bootstrap", "--object-store-memory", "lots", "--", "echo"], message: "--object-store-memory"),
        BadInput(arguments: ["bootstrap", "--stall-timeout=-5", "--", "echo"], message: "invalid duration '-5' for --stall-timeout"),
        // entrypoints
        BadInput(arguments: ["submit", "--address", BadInput.closedAddress], message: "the entrypoint is empty"),
        BadInput(arguments: ["submit", "--address", BadInput.closedAddress, "--"], message: "the entrypoint is empty"),
        BadInput(arguments: ["submit", "--address", BadInput.closedAddress, "--", " "], message: "the entrypoint is empty"),
        // runtime_env
        BadInput(arguments: ["submit", "--address", BadInput.closedAddress, "--runtime-env", "r.yaml", "--", "echo"], message: "r.yaml is not valid YAML", files: ["r.yaml": "env_vars: {A: [\n"]),
        BadInput(arguments: ["submit", "--address", BadInput.closedAddress, "--runtime-env", "r.yaml", "--", "echo"], message: "env_vars.N must be a string, not a number", files: ["r.yaml": "env_vars:\n  N: 1\n"]),
        BadInput(arguments: ["submit", "--address", BadInput.closedAddress, "--runtime-env", "r.yaml", "--", "echo"], message: "env_vars must be a mapping", files: ["r.yaml": "env_vars: [a]\n"]),
        BadInput(arguments: ["submit", "--address", BadInput.closedAddress, "--runtime-env", "r.yaml", "--", "echo"], message: "working_dir must be a path or a URI", files: ["r.yaml": "working_dir: 3\n"]),
        BadInput(arguments: ["submit", "--address", BadInput.closedAddress, "--runtime-env", "r.yaml", "--", "echo"], message: "excludes must be a list", files: ["r.yaml": "excludes: data/\n"]),
        BadInput(arguments: ["submit", "--address", BadInput.closedAddress, "--runtime-env", "r.yaml", "--", "echo"], message: "unknown runtime_env key 'pipp'", files: ["r.yaml": "pipp: [x]\n"]),
        BadInput(arguments: ["submit", "--address", BadInput.closedAddress, "--runtime-env", "r.yaml", "--", "echo"], message: "${UNSET_SD_VAR} is not set", files: ["r.yaml": "env_vars: {A: \"${UNSET_SD_VAR}\"}\n"]),
        BadInput(arguments: ["submit", "--address", BadInput.closedAddress, "--runtime-env", "missing.yaml", "--", "echo"], message: "cannot read missing.yaml"),
        BadInput(arguments: ["submit", "--address", BadInput.closedAddress, "--runtime-env-json", "{", "--", "echo"], message: "--runtime-env-json is not valid JSON"),
        BadInput(arguments: ["submit", "--address", BadInput.closedAddress, "--runtime-env", "r.yaml", "--runtime-env-json", "{}", "--", "echo"], message: "both given", files: ["r.yaml": "{}\n"]),
        BadInput(arguments: ["submit", "--address", BadInput.closedAddress, "--entrypoint-resources", "{", "--", "echo"], message: "--entrypoint-resources must be a JSON object"),
        BadInput(arguments: ["submit", "--address", BadInput.closedAddress, "--metadata", "novalue", "--", "echo"], message: "invalid --metadata \"novalue\""),
        // working dirs
        BadInput(arguments: ["submit", "--address", BadInput.closedAddress, "--working-dir", "missing", "--", "echo"], message: "is not an existing folder"),
        BadInput(arguments: ["submit", "--address", BadInput.closedAddress, "--working-dir", "wd", "--", "echo"], message: "working_dir has a symlink loop at sub/up", setup: "wd/sub/up -> ..") { folder in
            try FileManager.default.createDirectory(at: folder.appending(path: "wd/sub"), withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: folder.appending(path: "wd/sub/up").path, withDestinationPath: "..")
        },
        BadInput(arguments: ["submit", "--address", BadInput.closedAddress, "--working-dir", "wd", "--", "echo"], message: "cannot be read (a broken symlink?)", setup: "wd/a -> b, wd/b -> a") { folder in
            try FileManager.default.createDirectory(at: folder.appending(path: "wd"), withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: folder.appending(path: "wd/a").path, withDestinationPath: "b")
            try FileManager.default.createSymbolicLink(atPath: folder.appending(path: "wd/b").path, withDestinationPath: "a")
        },
        BadInput(arguments: ["submit", "--address", BadInput.closedAddress, "--working-dir", "wd", "--", "echo"], message: "over Ray's limit of 100.0 MiB; largest files: blob (101.0 MiB)", setup: "wd/blob of 101 MiB") { folder in
            try FileManager.default.createDirectory(at: folder.appending(path: "wd"), withIntermediateDirectories: true)
            // Sparse: the size check must come before anything reads 101 MiB.
            let path = folder.appending(path: "wd/blob").path
            #expect(FileManager.default.createFile(atPath: path, contents: nil))
            #expect(truncate(path, 101 << 20) == 0)
        },
        // addresses
        BadInput(arguments: ["status", "x"], message: "no Ray dashboard address given", environment: ["RAY_ADDRESS": "", "RAY_API_SERVER_ADDRESS": ""]),
        BadInput(arguments: ["status", "--address", "ftp://x", "x"], message: "is not a dashboard address"),
        BadInput(arguments: ["status", "--address", "http://[::1", "x"], message: "is not a dashboard address"),
        BadInput(arguments: ["list"], message: "is not a dashboard address", environment: ["RAY_ADDRESS": "ray://10.0.0.1:10001"]),
        BadInput(arguments: ["status", "--address", BadInput.closedAddress, "x"], status: 4, message: "could not connect to http://127.0.0.1:9/api/jobs/x"),
        BadInput(arguments: ["list", "--address", "http://no-such-host.invalid:8265"], status: 4, message: "could not resolve the host"),
        // tokens
        BadInput(arguments: ["status", "--address", BadInput.closedAddress, "--token-file", "/nonexistent", "x"], message: "token file /nonexistent does not exist"),
        BadInput(arguments: ["status", "--address", BadInput.closedAddress, "--token-file", "empty", "x"], message: "is empty", files: ["empty": ""]),
        BadInput(arguments: ["status", "--address", BadInput.closedAddress, "x"], message: "RAY_AUTH_TOKEN_PATH names /nonexistent", environment: ["RAY_AUTH_TOKEN_PATH": "/nonexistent"]),
        // job ids
        BadInput(arguments: ["status", "--address", BadInput.closedAddress, "../../api/version"], message: "invalid job id"),
        BadInput(arguments: ["logs", "--address", BadInput.closedAddress, "a b"], message: "invalid job id"),
        BadInput(arguments: ["stop", "--address", BadInput.closedAddress, ""], message: "invalid job id"),
        BadInput(arguments: ["delete", "--address", BadInput.closedAddress, "x?y=1"], message: "invalid job id"),
        BadInput(arguments: ["status", "--address", BadInput.closedAddress], message: "no submission id given"),
        // a slurm-distil job by its Slurm id or folder
        BadInput(arguments: ["status", "--job", "12; rm -rf /"], message: "invalid Slurm job id"),
        BadInput(arguments: ["logs", "--job-folder", "/nonexistent/slurm-distil-logs/7"], message: "no job folder /nonexistent/slurm-distil-logs/7 here"),
        BadInput(arguments: ["stop", "--job-folder", "/tmp", "--address", BadInput.closedAddress], message: "--job or --job-folder together with --address"),
        BadInput(arguments: ["tunnel", "--job-folder", "/nonexistent/x"], message: "no job folder /nonexistent/x here"),
    ]

    @Test(arguments: cases)
    func refusedWithCauseAndFix(_ input: BadInput) throws {
        let folder = try temporaryDirectory()
        for (name, text) in input.files {
            try text.write(to: folder.appending(path: name), atomically: true, encoding: .utf8)
        }
        try input.prepare?(folder)
        let before = try Set(FileManager.default.subpathsOfDirectory(atPath: folder.path))
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SLURM_") && !$0.key.hasPrefix("RAY_") }
        environment["XDG_CONFIG_HOME"] = "/nonexistent"
        environment["HOME"] = folder.path
        environment.merge(input.environment) { _, new in new }
        let result = try runProcess(PackagePaths.binary, input.arguments, environment: environment, directory: folder)
        #expect(result.status == input.status, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("slurm-distil: error: "), "\(result.stderr)")
        #expect(result.stderr.contains(input.message), "\(result.stderr)")
        // Argument-parser errors come with usage text instead of a hint line.
        #expect(result.stderr.contains("\nhint: ") || result.stderr.contains("Usage: "), "names the fix: \(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Backtrac"))
        for secret in ["hf_written_inline", "hf_in_a_profile"] { #expect(!result.stderr.contains(secret)) }
        #expect(try Set(FileManager.default.subpathsOfDirectory(atPath: folder.path)) == before, "nothing is left behind")
        let message = result.stderr.split(separator: "\n").first.map { String($0.dropFirst("slurm-distil: error: ".count)) } ?? ""
        // The report must not change from run to run.
        let stableMessage = message.replacingOccurrences(of: folder.path + "/", with: "").replacingOccurrences(of: folder.path, with: ".")
        ReliabilityLog.record(.init(category: "bad input", scenario: input.scenario, behaviour: stableMessage, exitCode: String(result.status)))
    }

    @Test func anUnreadableFileInTheWorkingDirIsNamed() throws {
        // Root reads everything: the unreadable file needs another user to be unreadable.
        let folder = try temporaryDirectory()
        try FileManager.default.createDirectory(at: folder.appending(path: "wd"), withIntermediateDirectories: true)
        let secret = folder.appending(path: "wd/private.txt").path
        #expect(FileManager.default.createFile(atPath: secret, contents: Data("x".utf8), attributes: [.posixPermissions: 0]))
        for path in [folder.path, folder.appending(path: "wd").path] { chmod(path, 0o755) }
        let result = try runProcess(
            "/usr/sbin/runuser", ["-u", "nobody", "--", PackagePaths.binary, "submit", "--address", BadInput.closedAddress, "--working-dir", "wd", "--", "echo"],
            directory: folder)
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("cannot read \(secret) in the working_dir"))
        #expect(result.stderr.contains("hint: fix its permissions, or exclude it with .rayignore"))
        ReliabilityLog.record(.init(
            category: "bad input", scenario: "`slurm-distil submit --working-dir wd -- echo` as a user who cannot read wd/private.txt",
            behaviour: "cannot read …/wd/private.txt in the working_dir", exitCode: String(result.status)))
    }
}
