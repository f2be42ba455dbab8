import Foundation

/// A batch job as `scontrol show job -o` prints it: one line of Key=Value pairs. The text is the same
/// in every Slurm version, while libslurm's job_info_t changes its layout from version to version.
public struct SlurmJobRecord: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    /// PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, PREEMPTED, NODE_FAIL, ...
    public var state: String
    /// Why it waits (or ended): None, Resources, Priority, Dependency, ...
    public var reason: String
    /// For a pending job, the scheduler's expected start (what `squeue --start` shows), if it has one.
    public var startTime: String?
    public var workDirectory: String
    public var nodeList: String?
    /// `exit:signal`, as Slurm keeps it.
    public var exitCode: String?
    public var restarts: Int
    /// Submitted with --requeue: Slurm brings it back after a preemption or a node failure.
    public var requeueable: Bool
    /// When a preemption picked the job (its grace time then runs); nil when it was never preempted.
    public var preemptTime: String?
    /// When Slurm ends the job: the time limit, or the end of a preemption's grace time.
    public var endTime: String?
    /// The nodes the job must not run on (--exclude, or added after a node was lost).
    public var excludedNodes: String?

    public init(parsing line: String) throws(Failure) {
        let fields = Self.fields(line)
        guard let id = fields["JobId"], let state = fields["JobState"] else {
            throw Failure(.runtime, "cannot read Slurm's job record: \(MessageQuoting.quote(String(line.prefix(200))))", hint: "check `scontrol show job -o ID` by hand")
        }
        self.id = id
        self.state = state
        name = fields["JobName"] ?? ""
        reason = fields["Reason"] ?? "None"
        startTime = fields["StartTime"].flatMap { ["Unknown", "None", "(null)"].contains($0) ? nil : $0 }
        workDirectory = fields["WorkDir"] ?? ""
        nodeList = fields["NodeList"].flatMap { $0 == "(null)" ? nil : $0 }
        exitCode = fields["ExitCode"]
        restarts = fields["Restarts"].flatMap(Int.init) ?? 0
        requeueable = fields["Requeue"] == "1"
        let known: (String?) -> String? = { $0.flatMap { ["Unknown", "None", "(null)", ""].contains($0) ? nil : $0 } }
        preemptTime = known(fields["PreemptTime"])
        endTime = known(fields["EndTime"])
        excludedNodes = known(fields["ExcNodeList"])
    }

    /// Seconds from `now` until `endTime`. scontrol prints times in the local time zone without saying so.
    public func secondsLeft(now: Date, timeZone: TimeZone = .current) -> Double? {
        guard let endTime else { return nil }
        let format = DateFormatter()
        format.locale = Locale(identifier: "en_US_POSIX")
        format.timeZone = timeZone
        format.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        return format.date(from: endTime).map { $0.timeIntervalSince(now) }
    }

    /// Splits at the spaces that start a new `Key=`: values such as Command= may hold spaces themselves.
    static func fields(_ line: String) -> [String: String] {
        var fields: [String: String] = [:]
        var key: String?
        var value = ""
        for word in line.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ", omittingEmptySubsequences: false) {
            if let equals = word.firstIndex(of: "="), word[..<equals].allSatisfy({ $0.isLetter || $0.isNumber || $0 == ":" || $0 == "_" }),
                !word[..<equals].isEmpty
            {
                if let key { fields[key] = value }
                key = String(word[..<equals])
                value = String(word[word.index(after: equals)...])
            } else if key != nil {
                value += " " + word
            }
        }
        if let key { fields[key] = value }
        return fields
    }

    public var isPending: Bool { state == "PENDING" || state == "REQUEUED" || state == "REQUEUE_HOLD" }
    public var isRunning: Bool { state == "RUNNING" || state == "COMPLETING" || state == "CONFIGURING" }

    /// The reason a job waits, in words, with what the user can do about it.
    public var pendingExplanation: String {
        let (words, hint) = Self.explain(reason)
        return hint.map { "\(words) (\(reason)); \($0)" } ?? "\(words) (\(reason))"
    }

    static func explain(_ reason: String) -> (String, String?) {
        switch reason {
        case "Resources": return ("waiting for free nodes: the ones it needs are in use", nil)
        case "Priority": return ("waiting behind jobs of higher priority", nil)
        case "Dependency": return ("waiting for the jobs it depends on", nil)
        case "DependencyNeverSatisfied": return ("its dependency can never be met", "cancel it and submit again without the dependency")
        case "BeginTime": return ("waiting for its --begin time", nil)
        case "JobHeldUser": return ("held by its owner", "release it: scontrol release ID")
        case "JobHeldAdmin": return ("held by an administrator", "ask your site's administrators")
        case "ReqNodeNotAvail": return ("a node it needs is down, drained or reserved", "check `sinfo -R`, or leave out --nodelist/--constraint")
        case "PartitionTimeLimit": return ("its --time is over the partition's limit, so it will never start", "cancel it and submit with a shorter --time")
        case "PartitionNodeLimit": return ("it asks for more nodes than the partition allows", "cancel it and ask for fewer --nodes")
        case "PartitionDown", "PartitionInactive": return ("its partition does not take jobs now", "choose another partition (-p)")
        case "Reservation": return ("waiting for its reservation to start", nil)
        case "BadConstraints": return ("no node has the features it asks for", "check --constraint and --gpus-per-node against `sinfo -o '%N %f %G'`")
        case "InvalidAccount", "InvalidQOS": return ("its account or QOS is not valid", "check -A/--qos with `sacctmgr show assoc user=$USER`")
        default:
            if reason.hasPrefix("QOS") || reason.hasPrefix("Assoc") {
                return ("a limit of its QOS or account holds it back", "wait for your other jobs to end, or ask for fewer resources")
            }
            return ("waiting", nil)
        }
    }
}

/// Slurm's queue, asked by job id.
public protocol SlurmQueue: Sendable {
    func job(_ id: String) throws(Failure) -> SlurmJobRecord
}

/// What bootstrap asks of Slurm about its own job when the run must go on in a new allocation.
public protocol SlurmJobControl: Sendable {
    func job(_ id: String) async throws(Failure) -> SlurmJobRecord
    /// Adds `nodes` to the job's excluded nodes (ExcNodeList), keeping those already there.
    func exclude(_ nodes: [String], from id: String, already: String?) async throws(Failure)
    /// `scontrol requeue`: Slurm ends this allocation and queues the job again, with the same id.
    func requeue(_ id: String) async throws(Failure)
}

/// `scontrol show job -o ID`.
public struct ScontrolQueue: SlurmQueue, SlurmJobControl {
    let environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment
    }

    /// For the commands on the login node (`status --job`), which wait on no cooperative pool.
    public func job(_ id: String) throws(Failure) -> SlurmJobRecord {
        guard !id.isEmpty, id.allSatisfy({ $0.isNumber || $0 == "_" }) else {
            throw Failure.usage("invalid Slurm job id \(MessageQuoting.quote(id))", hint: "give the number sbatch printed, e.g. --job 1234")
        }
        let (child, output) = try start(["show", "job", "-o", id])
        defer { try? FileManager.default.removeItem(atPath: output) }
        let status = child.wait()
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0, let line = Self.record(in: text) else {
            throw Failure.usage(
                "Slurm knows no job \(id)\(text.isEmpty ? "" : ": \(text.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200))")",
                hint: "check the id with `squeue --me`; a job that ended long ago is no longer in scontrol (give --job-folder instead)")
        }
        return try SlurmJobRecord(parsing: line)
    }

    public func job(_ id: String) async throws(Failure) -> SlurmJobRecord {
        let text = try await scontrol(["show", "job", "-o", id], what: "read job \(id)")
        guard let line = Self.record(in: text) else {
            throw Failure(.runtime, "scontrol printed no record for job \(id): \(MessageQuoting.quote(String(text.prefix(200))))", hint: "check `scontrol show job -o \(id)` by hand")
        }
        return try SlurmJobRecord(parsing: line)
    }

    static func record(in text: String) -> String? {
        text.split(separator: "\n").first(where: { $0.hasPrefix("JobId=") }).map(String.init)
    }

    public func exclude(_ nodes: [String], from id: String, already: String?) async throws(Failure) {
        let all = try (already.map { (list) throws(Failure) in try HostList.expand(list) } ?? []) + nodes
        _ = try await scontrol(["update", "JobId=\(id)", "ExcNodeList=\(HostList.compact(Array(Set(all)).sorted()))"], what: "exclude \(nodes.joined(separator: ",")) from job \(id)")
    }

    public func requeue(_ id: String) async throws(Failure) {
        _ = try await scontrol(["requeue", id], what: "requeue job \(id)")
    }

    /// Runs scontrol with waitpid on a thread of its own (WatchedProcess), never on the cooperative pool.
    /// With SIGTERM blocked: a requeue makes Slurm signal every process of the batch job at once, the
    /// scontrol that follows it (ExcNodeList) included, and only SIGKILL, KillWait seconds later, may end it.
    private func scontrol(_ arguments: [String], what: String) async throws(Failure) -> String {
        let (child, output) = try start(arguments)
        defer { try? FileManager.default.removeItem(atPath: output) }
        let status = await WatchedProcess(child).exited()
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw Failure(.runtime, "scontrol could not \(what) (status \(status)): \(text.trimmingCharacters(in: .whitespacesAndNewlines).prefix(300))", hint: "check `scontrol \(arguments.joined(separator: " "))` by hand")
        }
        return text
    }

    /// scontrol with its output (both streams) in a fresh file, whose path is returned.
    private func start(_ arguments: [String]) throws(Failure) -> (ChildProcess, String) {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("slurm-distil-scontrol-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        let child = try ChildProcess.spawn(
            "scontrol", arguments, environment: environment, stdout: .file(output, append: false), stderr: .file(output, append: true),
            blockedSignals: [SIGTERM, SIGINT, SIGHUP])
        return (child, output)
    }
}
