/// What `status --job ID` says: Slurm's state (and why it waits), the bring-up phases with their
/// times, then the pipeline's state. Pure: it only formats what was found.
public struct JobReport: Sendable, Encodable {
    public var slurm: SlurmJobRecord?
    public var folder: String
    public var bootstrap: BootstrapStatus?
    /// The pipeline as Ray has it now; nil when Ray was not asked or did not answer.
    public var pipeline: RayJobInfo?
    /// Why Ray was not asked, or what it answered instead.
    public var pipelineNote: String?

    public init(location: JobLocation, pipeline: RayJobInfo? = nil, pipelineNote: String? = nil) {
        slurm = location.slurm
        folder = location.folder
        bootstrap = location.status
        self.pipeline = pipeline
        self.pipelineNote = pipelineNote
    }

    /// The report for `location`, with the pipeline's state asked of Ray while the job runs (a job
    /// that waits in the queue, or has ended, has no Ray to ask).
    public static func gather(_ location: JobLocation, submissionID: String? = nil, transport: any HTTPTransport = CurlTransport()) async -> JobReport {
        var report = JobReport(location: location)
        guard let status = location.status, status.status == .running, let submission = submissionID ?? status.submissionID else { return report }
        do throws(Failure) {
            report.pipeline = try await location.client(transport: transport).job(submission)
        } catch {
            report.pipelineNote = "Ray did not answer: \(error.message)"
        }
        return report
    }

    public var text: String {
        var lines: [String] = []
        if let slurm {
            var line = "Slurm job \(slurm.id) (\(slurm.name)): \(slurm.state)"
            if slurm.isPending {
                line += ": \(slurm.pendingExplanation)"
                line += slurm.startTime.map { "; expected start \($0)" } ?? "; no expected start yet"
            } else if let nodes = slurm.nodeList {
                line += " on \(nodes)" + (slurm.startTime.map { " since \($0)" } ?? "")
            }
            if slurm.restarts > 0 { line += "; restarted \(slurm.restarts) time(s)" }
            lines.append(line)
        }
        guard let bootstrap else {
            lines.append("bootstrap has not started yet (no \(folder)/status.json)")
            return lines.joined(separator: "\n")
        }
        let phases: [(BootstrapStatus.Phase, String)] = [
            (.gcsReady, "GCS"), (.headReady, "dashboard"), (.rayReady, "all nodes"), (.submitted, "submitted"), (.finished, "finished"),
            (.tornDown, "torn down"),
        ]
        let reached = phases.compactMap { phase, name in bootstrap.seconds[phase].map { "\(name) \(Self.seconds($0))" } }
        lines.append("bring-up: " + (reached.isEmpty ? "starting Ray on \(bootstrap.nodes.count) node(s)" : reached.joined(separator: ", ")))
        for attempt in bootstrap.attempts where attempt.number < bootstrap.attempt {
            var line = "attempt \(attempt.number) on \(HostList.compact(attempt.nodes)): \(attempt.status.rawValue)"
            if let reason = attempt.requeueReason { line += " (\(reason))" }
            if let seconds = attempt.stopSeconds { line += ", stopped in \(Self.seconds(seconds))" }
            if attempt.resumable == false { line += ", the next attempt started over" }
            lines.append(line)
        }
        var state = bootstrap.attempt > 1 ? "attempt \(bootstrap.attempt): bootstrap \(bootstrap.status.rawValue)" : "bootstrap: \(bootstrap.status.rawValue)"
        if bootstrap.status != .starting, bootstrap.status != .running { state += ", exit \(bootstrap.exitCode)" }
        lines.append(state)
        if let id = bootstrap.submissionID {
            var line = "pipeline \(id): "
            if let pipeline {
                line += pipeline.status.rawValue + (pipeline.driverExitCode.map { ", exit code \($0)" } ?? "")
            } else {
                line += bootstrap.jobStatus?.rawValue ?? "(Ray not asked)"
            }
            if let pipelineNote { line += " (\(pipelineNote))" }
            lines.append(line)
        }
        if bootstrap.status == .starting || bootstrap.status == .running {
            lines.append("dashboard \(bootstrap.dashboard); follow the output: slurm-distil logs --job \(slurm?.id ?? "ID") --follow")
        }
        for warning in bootstrap.warnings { lines.append("warning: \(warning)") }
        lines.append("logs and status: \(folder)")
        return lines.joined(separator: "\n")
    }

    static func seconds(_ value: Double) -> String {
        value < 100 ? "\((value * 10).rounded() / 10) s" : "\(Int(value.rounded())) s"
    }
}

/// The `ssh -L` command that brings a job's dashboard to the user's own machine.
public struct DashboardTunnel: Sendable, Encodable {
    public var ssh: [String]
    public var localURL: String
    public var tokenPath: String?

    /// `via`: the host the user's machine can reach by ssh and that reaches the head (the login node).
    public init(dashboard: String, via: String, localPort: Int, tokenPath: String?) throws(Failure) {
        guard let url = URLParts(dashboard) else {
            throw Failure(.runtime, "the job's dashboard address \(MessageQuoting.quote(dashboard)) cannot be read", hint: "check status.json")
        }
        guard (1...65535).contains(localPort) else { throw Failure.usage("--local-port \(localPort) is not a port", hint: "give 1024-65535, e.g. 8265") }
        guard !via.isEmpty, !via.hasPrefix("-"), !via.contains(where: { $0.isWhitespace }) else {
            throw Failure.usage("invalid --via \(MessageQuoting.quote(via))", hint: "give the login node as you reach it by ssh, e.g. login.cluster.org or user@login")
        }
        // Bound to the user's loopback: a tunnel on every interface would hand the dashboard to their network.
        ssh = ["ssh", "-N", "-L", "127.0.0.1:\(localPort):\(url.host):\(url.port)", via]
        localURL = "http://127.0.0.1:\(localPort)"
        self.tokenPath = tokenPath
    }

    public var instructions: String {
        var lines = ["On your machine, run:", "  " + ShellQuoting.join(ssh), "then open \(localURL)"]
        if let tokenPath {
            lines += [
                "The dashboard asks for the job's token: it is in \(tokenPath) (copy it from there; it is never printed).",
                "Ray's own CLI through the tunnel:",
                "  RAY_AUTH_MODE=token RAY_AUTH_TOKEN=\"$(ssh \(ssh.last!) cat \(ShellQuoting.quote(tokenPath)))\" ray job list --address \(localURL)",
                "slurm-distil through the tunnel: slurm-distil list --address \(localURL) --token-file FILE (a copy of the token)",
            ]
        }
        return lines.joined(separator: "\n")
    }

    struct URLParts {
        var host: String
        var port: Int
        init?(_ text: String) {
            guard let rest = text.split(separator: "://", maxSplits: 1).last, let colon = rest.lastIndex(of: ":"),
                let port = Int(rest[rest.index(after: colon)...].prefix { $0.isNumber })
            else { return nil }
            host = String(rest[..<colon])
            self.port = port
        }
    }
}
