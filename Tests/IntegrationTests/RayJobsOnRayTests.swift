import Foundation
import Testing
import TestSupport

@testable import SlurmDistil

/// The Jobs commands against real Ray heads from the pinned venv: one with token auth, one without.
@Suite(.serialized, .enabled(if: VirtualCluster.isUp)) struct RayJobsOnRayTests {
    static let secured = Result { try RayHead(host: "127.0.0.2", basePort: 23_000, auth: true) }
    static let open = Result { try RayHead(host: "127.0.0.3", basePort: 23_100, auth: false) }

    func cli(_ arguments: [String], head: RayHead? = nil, token: Bool = true, in directory: URL? = nil, environment extra: [String: String] = [:]) throws -> ProcessResult {
        var environment = ProcessInfo.processInfo.environment
        for name in ["RAY_ADDRESS", "RAY_API_SERVER_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"] { environment[name] = nil }
        environment["HOME"] = "/nonexistent"
        environment.merge(extra) { $1 }
        var flags: [String] = []
        if let head {
            flags += ["--address", head.address]
            if token, head.token != nil { flags += ["--token-file", head.tokenFile] }
        }
        let (command, rest) = (arguments[0], Array(arguments.dropFirst()))
        let split = rest.firstIndex(of: "--") ?? rest.endIndex
        return try runProcess(PackagePaths.binary, [command] + rest[..<split] + flags + rest[split...], environment: environment, directory: directory)
    }

    /// A working_dir with nested folders, ignore files, an ignored 150 MB file and default-excluded folders.
    func makeWorkingDir() throws -> URL {
        let root = try temporaryDirectory()
        let files = [
            "main.py": "print('main')\n", "pkg/__init__.py": "", "pkg/sub/deep.txt": "deep\n", "pkg/sub/notes.log": "log\n",
            "keep.log": "keep\n", ".gitignore": "*.log\n!keep.log\ndata/\n", "pkg/.rayignore": "secret.txt\n",
            "pkg/secret.txt": "hidden\n", ".git/HEAD": "ref\n", "venv/bin/python": "", "__pycache__/x.pyc": "x",
            "build/out.bin": "b",
        ]
        for (path, text) in files {
            let url = root.appending(path: path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        try FileManager.default.createDirectory(at: root.appending(path: "data"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appending(path: "empty"), withIntermediateDirectories: true)
        // Sparse: 150 MB on paper, over Ray's limit unless the .gitignore keeps it out.
        let big = FileHandle(forWritingAtPath: { FileManager.default.createFile(atPath: root.appending(path: "data/big.bin").path, contents: nil); return root.appending(path: "data/big.bin").path }())!
        try big.truncate(atOffset: 150_000_000)
        try big.close()
        return root
    }

    @Test func packageNameAndContentsMatchRaysOwnClient() throws {
        let root = try makeWorkingDir()
        for excludes in [[], ["build/"], ["*.txt", "empty"]] {
            let ray = try runProcess(RayHead.python, [PackagePaths.fixtures.appending(path: "ray_package.py").path, root.path] + excludes)
            #expect(ray.status == 0, "\(ray.stderr)")
            let lines = ray.stdout.split(separator: "\n").map(String.init)
            let ours = try WorkingDirPackage.scan(root: root.path, excludes: excludes)
            #expect("gcs://" + ours.name == lines.first, "excludes \(excludes)")
            #expect(ours.entries.map(\.name).sorted() == Array(lines.dropFirst()), "excludes \(excludes)")
        }
        // The zip itself is readable by Python's zipfile, with exec bits kept.
        let zipPath = try temporaryDirectory().appending(path: "package.zip").path
        try WorkingDirPackage.scan(root: root.path, excludes: []).zip().write(to: URL(fileURLWithPath: zipPath))
        let check = try runProcess(RayHead.python, ["-c", "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(z.read('pkg/sub/deep.txt').decode())", zipPath])
        #expect(check.stdout == "deep\n\n", "\(check.stderr)")
    }

    @Test func submitUploadsWorkingDirAndEnvVarsReachTheJob() throws {
        let head = try Self.secured.get()
        let root = try makeWorkingDir()
        try "env_vars:\n  SD_VALUE: \"${SD_TEST_SECRET}\"\n  PLAIN: \"1\"\n".write(to: root.appending(path: "runtime_env.yaml"), atomically: true, encoding: .utf8)
        let result = try cli(
            ["submit", "--working-dir", ".", "--runtime-env", "runtime_env.yaml", "--", "sh", "-c", #"cat pkg/sub/deep.txt; ls data 2>&1 | head -1; echo "v=$(printf %s "$SD_VALUE" | sed 's/./&./g') p=$PLAIN raw=$SD_VALUE""#],
            head: head, in: root, environment: ["SD_TEST_SECRET": "s3cr3t-v4lue"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("deep\n"))
        #expect(result.stdout.contains("No such file"), "data/ is ignored, so it is not uploaded")
        // The value reached the job (spelled out so that it is not masked), and printed as is it is masked.
        #expect(result.stdout.contains("v=s.3.c.r.3.t.-.v.4.l.u.e. p=1 raw=***"), "\(result.stdout)")
        #expect(!result.stdout.contains("s3cr3t-v4lue"))
        #expect(!result.stderr.contains("s3cr3t-v4lue"), "the tool never prints a secret")
        #expect(result.stderr.contains("SUCCEEDED"))
        // The same folder again: already on the cluster, no second upload.
        let again = try cli(["submit", "--working-dir", ".", "--no-wait", "--", "true"], head: head, in: root)
        #expect(again.stderr.contains("already on the cluster"), "\(again.stderr)")
    }

    @Test func failingEntrypointsExitCodeComesBack() throws {
        let result = try cli(["submit", "--", "sh", "-c", "echo about to fail; exit 7"], head: try Self.secured.get())
        #expect(result.status == 7)
        #expect(result.stdout.contains("about to fail"))
        #expect(result.stderr.contains("FAILED, exit code 7"))
    }

    @Test func stopAndFollowOfAStoppedJob() throws {
        let head = try Self.secured.get()
        let submitted = try cli(["submit", "--no-wait", "--", "sleep", "120"], head: head)
        let id = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(submitted.status == 0 && id.hasPrefix("sd_"), "\(submitted.stderr)")
        // Wait until it really runs, then stop it.
        var status = ""
        for _ in 0..<60 where !status.contains("RUNNING") {
            status = try cli(["status", id], head: head).stdout
            Thread.sleep(forTimeInterval: 0.25)
        }
        let stop = try cli(["stop", id], head: head)
        #expect(stop.status == 0 && stop.stdout.contains("stopping job \(id)"))
        let followed = try cli(["logs", id, "--follow"], head: head)
        #expect(followed.status == ExitKind.jobStopped.code, "\(followed.stderr)")
        #expect(try cli(["status", id], head: head).stdout.contains("STOPPED"))
        let listed = try cli(["list", "--json"], head: head)
        #expect(listed.stdout.contains(id))
    }

    @Test func invalidUtf8OutputSurvives() throws {
        let head = try Self.secured.get()
        let result = try cli(["submit", "--", "sh", "-c", #"printf 'before \377\376 after\n'"#], head: head)
        #expect(result.status == 0, "\(result.stderr)")
        let submitted = try cli(["submit", "--no-wait", "--", "sh", "-c", #"printf 'raw \377 bytes\n'"#], head: head)
        let id = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try cli(["logs", id, "--follow"], head: head)
        // Ray's own /logs endpoint answers 500 for this job; the tool still returns its bytes.
        let logs = try cli(["logs", id], head: head)
        #expect(logs.status == 0, "\(logs.stderr)")
        #expect(logs.stdoutData.range(of: Data("raw \u{FF} bytes".utf8.map { $0 == 0xC3 ? 0xFF : $0 }.filter { $0 != 0xBF })) != nil)
        #expect(result.stdoutData.range(of: Data([0x62, 0x65, 0x66, 0x6F, 0x72, 0x65, 0x20, 0xFF, 0xFE, 0x20])) != nil, "bytes pass through unchanged")
        ReliabilityLog.record(.init(
            category: "fault", scenario: "a job prints bytes that are not UTF-8 (`submit`, `logs`)",
            behaviour: "passed through unchanged, also where Ray's own /logs endpoint answers 500", exitCode: String(result.status)))
    }

    @Test func authenticationErrors() throws {
        let head = try Self.secured.get()
        let wrongToken = try temporaryDirectory().appending(path: "token").path
        try String(repeating: "0", count: 64).write(toFile: wrongToken, atomically: true, encoding: .utf8)
        let wrong = try cli(["list", "--address", head.address, "--token-file", wrongToken])
        #expect(wrong.status == 5)
        #expect(wrong.stderr.contains("refused the token from --token-file \(wrongToken)"))
        let none = try cli(["list", "--address", head.address])
        #expect(none.status == 5)
        #expect(none.stderr.contains("requires a token and none was found"))
        let submitNone = try cli(["submit", "--address", head.address, "--", "true"])
        #expect(submitNone.status == 5)
        let fromEnvironment = try cli(["list", "--address", head.address], environment: ["RAY_AUTH_TOKEN_PATH": head.tokenFile])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")
        // Without a token the dashboard refuses everything but the open endpoints.
        let raw = try runProcess("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-d", #"{"entrypoint":"id"}"#, "\(head.address)/api/jobs/"])
        #expect(raw.stdout == "401")
        for (scenario, result) in [
            ("`slurm-distil list` against a token-protected Ray with a wrong `--token-file`", wrong),
            ("`slurm-distil list` against a token-protected Ray with no token anywhere", none),
        ] {
            ReliabilityLog.record(.init(
                category: "bad input", scenario: scenario,
                behaviour: String(result.stderr.split(separator: "\n").first?.dropFirst("slurm-distil: error: ".count) ?? "")
                    .replacingOccurrences(of: head.address, with: "ADDRESS").replacingOccurrences(of: wrongToken, with: "FILE"),
                exitCode: String(result.status)))
        }
    }

    @Test func badIdsDuplicatesAndNoRay() throws {
        let head = try Self.secured.get()
        let unknown = try cli(["status", "sd_doesnotexist"], head: head)
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no job sd_doesnotexist"))
        let first = try cli(["submit", "--no-wait", "--submission-id", "dup-\(UUID().uuidString.prefix(6))", "--", "true"], head: head)
        let id = first.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let duplicate = try cli(["submit", "--no-wait", "--submission-id", id, "--", "true"], head: head)
        #expect(duplicate.status == 2)
        #expect(duplicate.stderr.contains("already exists"))
        let noRay = try cli(["list", "--address", "http://127.0.0.4:1"])
        #expect(noRay.status == 4)
        #expect(noRay.stderr.contains("could not connect to http://127.0.0.4:1"))
        let noAddress = try cli(["list"])
        #expect(noAddress.status == 2)
    }

    @Test func clusterWithoutAuthentication() throws {
        let head = try Self.open.get()
        let result = try cli(["submit", "--", "echo", "no token needed"], head: head)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("no token needed"))
    }

    @Test func oversizedWorkingDirIsRefusedBeforeUploading() throws {
        let head = try Self.secured.get()
        let root = try temporaryDirectory()
        for name in ["a.bin", "b.bin"] {
            FileManager.default.createFile(atPath: root.appending(path: name).path, contents: nil)
            let handle = FileHandle(forWritingAtPath: root.appending(path: name).path)!
            try handle.truncate(atOffset: 60_000_000)
            try handle.close()
        }
        let result = try cli(["submit", "--working-dir", root.path, "--", "true"], head: head)
        #expect(result.status == 2)
        #expect(result.stderr.contains("over Ray's limit"))
        #expect(result.stderr.contains("a.bin (57.2 MiB)"))
    }
}
