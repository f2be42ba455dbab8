/// The Slurm allocation this process runs in, read from the variables Slurm sets for jobs.
public struct Allocation: Sendable, Equatable {
    public var jobID: String
    /// The compact node list as Slurm gave it (`n[1-3]`).
    public var nodeList: String
    public var nodes: [String]
    /// This node's name (SLURMD_NODENAME); nil when not known (e.g. on a login node with --nodelist).
    public var thisNode: String?
    /// CPUs Slurm allocated on each node, in node order.
    public var cpusPerNode: [Int]
    /// GPUs per node and the variable they were read from.
    public var gpusPerNode: Int
    public var gpuSource: String
    public var submitDirectory: String?
    public var restartCount: Int

    public static let notInAllocation = Failure.environment(
        "not inside a Slurm allocation (SLURM_JOB_ID is not set)",
        hint: "run inside a job: `salloc -N 2` for an interactive one, or the script that `slurm-distil gen-sbatch` writes")

    /// Reads the allocation from `environment`; node names are expanded through libslurm. `hostname` names
    /// this node where Slurm does not: the batch script gets no SLURMD_NODENAME, only job steps do.
    public init(environment: [String: String], hostname: String? = nil) throws(Failure) {
        guard let jobID = environment["SLURM_JOB_ID"] ?? environment["SLURM_JOBID"], !jobID.isEmpty else {
            throw Self.notInAllocation
        }
        guard let list = environment["SLURM_JOB_NODELIST"] ?? environment["SLURM_NODELIST"], !list.isEmpty else {
            throw Failure.environment(
                "SLURM_JOB_ID is set but SLURM_JOB_NODELIST is not",
                hint: "run slurm-distil in the batch script or an salloc shell, not in a modified environment")
        }
        self.jobID = jobID
        nodeList = list
        nodes = try HostList.expand(list)
        if let count = environment["SLURM_JOB_NUM_NODES"].flatMap(Int.init), count != nodes.count {
            throw Failure.environment(
                "SLURM_JOB_NODELIST (\(list)) names \(nodes.count) nodes but SLURM_JOB_NUM_NODES says \(count)",
                hint: "the job's environment is inconsistent; run slurm-distil directly in the batch script")
        }
        let expanded = nodes
        let shortHostname = hostname.flatMap { $0.split(separator: ".").first.map(String.init) }
        thisNode = environment["SLURMD_NODENAME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? [hostname, shortHostname].compactMap { $0 }.first { expanded.contains($0) }
        cpusPerNode = try Self.cpusPerNode(environment, nodeCount: nodes.count)
        (gpusPerNode, gpuSource) = try Self.gpusPerNode(environment, nodeCount: nodes.count)
        submitDirectory = environment["SLURM_SUBMIT_DIR"]
        restartCount = environment["SLURM_RESTART_COUNT"].flatMap(Int.init) ?? 0
    }

    /// An allocation-like view of an explicit node list, for `hosts --nodelist` outside a job.
    public init(nodeList: String) throws(Failure) {
        jobID = "-"
        self.nodeList = nodeList
        nodes = try HostList.expand(nodeList)
        thisNode = nil
        cpusPerNode = []
        gpusPerNode = 0
        gpuSource = "none (outside an allocation)"
        submitDirectory = nil
        restartCount = 0
    }

    /// `SLURM_JOB_CPUS_PER_NODE`: counts with repeats, e.g. `72(x2),36`.
    static func cpusPerNode(_ environment: [String: String], nodeCount: Int) throws(Failure) -> [Int] {
        guard let text = environment["SLURM_JOB_CPUS_PER_NODE"], !text.isEmpty else {
            if let here = environment["SLURM_CPUS_ON_NODE"].flatMap(Int.init) {
                return Array(repeating: here, count: nodeCount)
            }
            return []
        }
        var counts: [Int] = []
        for part in text.split(separator: ",") {
            let pieces = part.split(separator: "(")
            guard let count = Int(pieces[0]) else { throw badVariable("SLURM_JOB_CPUS_PER_NODE", text) }
            var repeats = 1
            if pieces.count == 2 {
                guard pieces[1].hasPrefix("x"), pieces[1].hasSuffix(")"), let times = Int(pieces[1].dropFirst().dropLast())
                else { throw badVariable("SLURM_JOB_CPUS_PER_NODE", text) }
                repeats = times
            }
            guard repeats >= 1, repeats <= HostList.maximumHosts else { throw badVariable("SLURM_JOB_CPUS_PER_NODE", text) }
            counts += Array(repeating: count, count: repeats)
        }
        guard counts.count == nodeCount else { throw badVariable("SLURM_JOB_CPUS_PER_NODE", text) }
        return counts
    }

    /// GPUs per node. Slurm says it differently for each way of asking: `--gpus-per-node` sets
    /// SLURM_GPUS_PER_NODE (and leaves SLURM_GPUS_PER_TASK empty), `--gres=gpu:N` sets SLURM_TRES_PER_NODE or
    /// SLURM_JOB_GRES, `--gpus=N` sets SLURM_GPUS for the whole job; steps see SLURM_GPUS_ON_NODE.
    static func gpusPerNode(_ environment: [String: String], nodeCount: Int) throws(Failure) -> (Int, String) {
        func value(_ name: String) -> String? {
            environment[name].flatMap { $0.isEmpty ? nil : $0 }
        }
        if let text = value("SLURM_GPUS_ON_NODE") {
            guard let count = Int(text), count >= 0 else { throw badVariable("SLURM_GPUS_ON_NODE", text) }
            return (count, "SLURM_GPUS_ON_NODE")
        }
        if let text = value("SLURM_GPUS_PER_NODE") {
            return (try gresCount(text, variable: "SLURM_GPUS_PER_NODE", bare: true), "SLURM_GPUS_PER_NODE")
        }
        for name in ["SLURM_TRES_PER_NODE", "SLURM_JOB_GRES"] {
            if let text = value(name) {
                return (try gresCount(text, variable: name, bare: false), name)
            }
        }
        if let text = value("SLURM_GPUS") {
            let total = try gresCount(text, variable: "SLURM_GPUS", bare: true)
            guard nodeCount > 0, total % nodeCount == 0 else {
                throw Failure.environment(
                    "the job asked for \(total) GPUs (--gpus) over \(nodeCount) nodes, which does not split evenly",
                    hint: "ask with --gpus-per-node so that every Ray node gets the same number of GPUs")
            }
            return (total / nodeCount, "SLURM_GPUS / nodes")
        }
        if let devices = value("CUDA_VISIBLE_DEVICES") ?? value("SLURM_JOB_GPUS") {
            return (devices.split(separator: ",").count, environment["CUDA_VISIBLE_DEVICES"] != nil ? "CUDA_VISIBLE_DEVICES" : "SLURM_JOB_GPUS")
        }
        return (0, "none requested")
    }

    /// Counts GPUs in `1`, `a100:2`, `gpu:2`, `gres:gpu:2`, `gres/gpu:a100:2`, `gpu:2,gres:nic:1`.
    static func gresCount(_ text: String, variable: String, bare: Bool) throws(Failure) -> Int {
        var total = 0
        for entry in text.split(separator: ",") {
            let fields = entry.split(separator: ":").flatMap { $0.split(separator: "/") }.map(String.init)
            if bare, fields.count == 1 || !fields.contains("gpu") && !fields.contains("gres") {
                guard let count = Int(fields.last ?? "") else { throw badVariable(variable, text) }
                total += count
                continue
            }
            guard fields.contains("gpu") else { continue }
            // `gres:gpu` with no count means one.
            total += Int(fields.last ?? "") ?? 1
        }
        return total
    }

    static func badVariable(_ name: String, _ value: String) -> Failure {
        Failure.environment(
            "cannot read \(name)=\(MessageQuoting.quote(value))",
            hint: "this Slurm version may format it differently; please report it with `env | grep SLURM`")
    }
}
