import Foundation
import Testing
import TestSupport

/// Per-job token auth, private files, what listens where, and secrets kept out of scripts and logs.
@Suite(.serialized, .enabled(if: VirtualCluster.isUp)) struct SecurityOnClusterTests: BootstrapJobs {
    @Test func requestsWithoutOrWithAWrongTokenAreRefused() throws {
        let (directory, id, job) = try runToEnd([Self.probe, "auth"], nodes: 1)
        let text = output(directory, id)
        #expect(job.state == "COMPLETED")
        #expect(text.contains("unauthenticated status 401"), "\(text)")
        #expect(text.contains("wrong-token status 403") || text.contains("wrong-token status 401"), "\(text)")
        // The token never appears in the job's output.
        let token = jobFile(directory, id, "token")
        #expect(token.count == 64)
        #expect(!text.contains(token))
        try expectNothingLeft(id)
        ReliabilityLog.record(.init(
            category: "security", scenario: "HTTP requests to a running job's dashboard without a token, and with a wrong one",
            behaviour: "refused (401 / 403)", exitCode: "-"))
    }

    /// Another Unix user on the same node can read neither the job's token nor Ray's temp dir.
    @Test func anotherUserCannotReadTheTokenOrTheTempDir() throws {
        let user = "sdtestother"
        if try runProcess("/usr/bin/id", [user]).status != 0 {
            let added = try runProcess("/usr/sbin/useradd", ["--no-create-home", "--shell", "/usr/sbin/nologin", user])
            #expect(added.status == 0, "\(added.stderr)")
        }
        let directory = try generate([Self.probe, "sleep"], nodes: 1)
        // The submit folder itself is open to all; only what bootstrap creates must be closed.
        _ = try runProcess("/bin/chmod", ["755", directory.path])
        let id = try VirtualCluster.submit("job.sh", in: directory)
        try waitForOutput(directory, id, "started")
        let token = directory.appending(path: "slurm-distil-logs/\(id)/token").path
        let temp = "/tmp/sd-\(id)-n1"
        #expect(FileManager.default.fileExists(atPath: temp))
        for target in [["cat", token], ["ls", temp]] {
            let attempt = try runProcess("/usr/sbin/runuser", ["-u", user, "--"] + target)
            #expect(attempt.status != 0, "\(user) could run \(target): \(attempt.stdout)")
            #expect(attempt.stderr.contains("Permission denied"), "\(attempt.stderr)")
        }
        let mode = try FileManager.default.attributesOfItem(atPath: temp)[.posixPermissions] as? Int
        #expect(mode == 0o700)
        _ = try VirtualCluster.exec("ctl", ["scancel", String(id)])
        _ = try VirtualCluster.waitForEnd(id, timeout: 60)
        try expectNothingLeft(id)
        ReliabilityLog.record(.init(
            category: "security", scenario: "another Unix user on the head node reads the token file and the job's temp dir",
            behaviour: "Permission denied (token 0600, private folder 0700 around Ray's own 0777 temp dir)", exitCode: "-"))
    }

    /// One job, watched while it runs: what listens where on the head, gRPC auth, and secrets in
    /// the environment and the runtime_env kept out of the script, the output and every kept file.
    @Test func listenersAuthAndSecretsOfARunningJob() throws {
        let hfToken = "hf_FromTheSubmitShell_\(UUID().uuidString.prefix(8))"
        let fileSecret = "file-secret-\(UUID().uuidString.prefix(8))"
        let folder = try temporaryDirectory()
        try "env_vars:\n  HF_TOKEN: \"${HF_TOKEN}\"\n  SD_FILE_SECRET: \"\(fileSecret)\"\n"
            .write(to: folder.appending(path: "runtime_env.yaml"), atomically: true, encoding: .utf8)
        let generated = try runProcess(
            PackagePaths.binary,
            ["gen-sbatch", "--no-profile", "-N", "2", "--gpus-per-node", "1", "--time", "10", "-J", "bt",
             "--venv", PackagePaths.root.appending(path: ".venv-ray").path, "--env", "HF_TOKEN", "--runtime-env", "runtime_env.yaml",
             "--bootstrap-arg=--object-store-memory", "--bootstrap-arg=80M", "-o", "job.sh", "--", "python", "-u", Self.probe, "secrets"],
            directory: folder)
        #expect(generated.status == 0, "\(generated.stderr)")
        let submitted = try VirtualCluster.exec("ctl", ["env", "HF_TOKEN=\(hfToken)", "sbatch", "--parsable", "job.sh"], in: folder)
        let id = try #require(Int(submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "\(submitted.stderr)")
        try waitForOutput(folder, id, "started")

        // Ports: everything of the job inside its block; the HTTP APIs on the node's address only.
        let text = output(folder, id)
        let dashboardPort = try #require(text.firstMatch(of: /dashboard http:\/\/10\.213\.77\.11:(\d+)/).flatMap { Int($0.1) }, "\(text)")
        let base = dashboardPort - 1
        let listeners = try runProcess("/usr/bin/env", ["ip", "netns", "exec", "sdv-n1", "ss", "-ltnpH"]).stdout.split(separator: "\n").compactMap { line -> (address: String, port: Int, process: String)? in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, let colon = fields[3].lastIndex(of: ":"), let port = Int(fields[3][fields[3].index(after: colon)...]) else { return nil }
            let process = fields[5].firstMatch(of: /\(\("([^"]+)"/).map { String($0.1) } ?? "?"
            return (String(fields[3][..<colon]), port, process)
        }
        let ofTheJob = listeners.filter { !["slurmd", "srun", "slurmstepd"].contains($0.process) }
        #expect(!ofTheJob.isEmpty)
        for listener in ofTheJob {
            #expect((base..<(base + 200)).contains(listener.port), "outside the job's block \(base)-\(base + 199): \(listener)")
        }
        let wildcard = ofTheJob.filter { ["*", "0.0.0.0", "[::]"].contains($0.address) }
        let httpAPIs: Set<Int> = [base + 1, base + 2, base + 5, base + 8]
        #expect(wildcard.allSatisfy { !httpAPIs.contains($0.port) }, "dashboard, client server, agent and runtime-env agent on the node address: \(wildcard)")

        // gRPC (which Ray 2.60 binds to every interface) wants the job's token too.
        let token = jobFile(folder, id, "token")
        let python = PackagePaths.root.appending(path: ".venv-ray/bin/python").path
        let probe = PackagePaths.fixtures.appending(path: "grpc_auth_probe.py").path
        var answers: [String] = []
        for credentials in [[], [String(repeating: "0", count: 64)], [token]] {
            let call = try runProcess("/usr/bin/env", ["ip", "netns", "exec", "sdv-n2", python, probe, "10.213.77.11:\(base)"] + credentials)
            answers.append(call.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        #expect(answers == ["UNAUTHENTICATED", "UNAUTHENTICATED", "OK"])

        _ = try VirtualCluster.exec("ctl", ["scancel", String(id)])
        _ = try VirtualCluster.waitForEnd(id, timeout: 60)
        try expectNothingLeft(id)

        // Secrets: the pipeline printed both; neither reached the script, the output or a kept file.
        let kept = [folder.appending(path: "job.sh").path] + (FileManager.default.enumerator(atPath: folder.appending(path: "slurm-distil-logs").path)?
            .compactMap { $0 as? String }.map { folder.appending(path: "slurm-distil-logs/\($0)").path } ?? [])
        for path in kept {
            let content = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
            #expect(!content.contains(hfToken) && !content.contains(fileSecret), "a secret in \(path)")
        }
        #expect(jobFile(folder, id, "pipeline.log").contains("HF_TOKEN=***"))
        #expect(jobFile(folder, id, "pipeline.log").contains("SD_FILE_SECRET=***"))

        let fixed = wildcard.filter { $0.port < base + 11 }.map { "+\($0.port - base) \($0.process)" }
        let workers = Set(wildcard.filter { $0.port >= base + 11 }.map(\.process)).sorted()
        let described = Set(fixed).sorted().joined(separator: ", ") + "; in the worker port range: " + workers.joined(separator: ", ")
        ReliabilityLog.record(.init(
            category: "security", scenario: "listening sockets of a running 2-node job on its head",
            behaviour: "all inside the job's port block; dashboard, client server and agents' HTTP on the node address; on every interface (Ray 2.60 cannot bind them): \(described)",
            exitCode: "-"))
        ReliabilityLog.record(.init(
            category: "security", scenario: "gRPC to the job's GCS without a token, with a wrong one, with the job's",
            behaviour: answers.joined(separator: ", "), exitCode: "-"))
        ReliabilityLog.record(.init(
            category: "security", scenario: "a pipeline prints HF_TOKEN (from the submit shell) and a secret-named runtime_env value",
            behaviour: "`***` in the batch output and pipeline.log; neither value in job.sh or any kept file", exitCode: "-"))
    }
}
