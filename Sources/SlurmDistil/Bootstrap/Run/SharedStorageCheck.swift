/// `--require-shared PATH`: a fresh file written under PATH here, read back by every node in one step.
/// distilabel's global steps and `use_fs_to_pass_data` need such a folder, and a wrong one fails late.
struct SharedStorageCheck: Sendable {
    let plan: BootstrapPlan
    let edges: BootstrapEdges
    let environment: [String: String]

    enum Purpose {
        /// `--require-shared PATH`.
        case asked
        /// The job folder of a job that may be requeued: the next attempt resumes from what is there.
        case resume
    }

    func check(_ path: String, purpose: Purpose = .asked) async throws(Failure) {
        let what = purpose == .asked ? "--require-shared \(path)" : "the job folder \(path) (a requeued attempt resumes from the pipeline's cache there)"
        let nonce = String(BootstrapRun.newToken().prefix(16))
        guard let probe = edges.folder.writeProbe(nonce, into: path, jobID: plan.jobID) else {
            throw Failure.usage("\(what): cannot write there from \(plan.head)", hint: "give a writable folder on storage every node mounts")
        }
        defer { edges.folder.removeProbe(probe) }
        let answers = "shared-check.txt"
        let status = try await edges.launcher.run(
            plan.everyNodeStep(["sh", "-c", #"printf '%s %s\n' "$SLURMD_NODENAME" "$(cat "$0" 2>&1 | head -c 200)""#, probe]),
            environment: environment, outputPath: edges.folder.path + "/" + answers, timeout: 60)
        var seen: [String: String] = [:]
        for line in edges.folder.read(answers).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { seen[String(parts[0])] = String(parts[1]) }
        }
        let missing = plan.nodes.filter { seen[$0] != nonce }
        guard status == 0, missing.isEmpty else {
            let detail = missing.map { "\($0): \(seen[$0] ?? "no answer")" }.joined(separator: "; ")
            throw Failure.usage(
                "\(what) is not the same folder on every node (\(detail))",
                hint: "use a path on shared storage (NFS, Lustre, GPFS) that every node mounts; distilabel's global steps and use_fs_to_pass_data need one")
        }
        edges.console.say("\(path) is shared by all \(plan.nodes.count) nodes")
    }
}
