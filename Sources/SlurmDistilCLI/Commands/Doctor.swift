import ArgumentParser
import Foundation
import SlurmDistil

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Inside an allocation: check every node for what would waste it, in seconds, without starting Ray.",
        discussion: """
            Runs one srun step over the allocation. On each node: Slurm and libslurm, the address Ray would use and
            its interface's MTU, the venv's Ray and Python (and whether that Ray has token authentication), GPUs
            granted against visible, CPUs, /dev/shm against the object store, free space and path length of the
            temp root, ulimit -n. Across the nodes: TCP from every worker to the head on the job's port block, the
            submit folder, working dir and venv seen as the same by every node, and clock skew. On the head: how
            long Ray's dashboard will serve nothing at each start while it probes for a cloud provider (it does
            so with usage stats off too), a WARN above 3 s.

            Exit status: 0 when nothing FAILs (WARNs included), 1 otherwise, 2 for bad options, 3 outside an allocation.

            Examples:
              slurm-distil gen-sbatch --template doctor -N 4 --gpus-per-node 8 --venv /shared/envs/ray -o doctor.sh && sbatch doctor.sh
              salloc -N 2 slurm-distil doctor --interface ib0 --object-store-memory 20G
              slurm-distil doctor --json
            """)

    @OptionGroup var address: AddressOptions
    @Option(help: "The venv bootstrap's nodes use (its bin/ray), instead of --ray.") var venv: String?
    @Option(help: "The ray executable on every node (default: ray on PATH).") var ray = "ray"
    @Option(help: "Folder bootstrap would upload as the working_dir: checked to be the same on every node.") var workingDir: String?
    @Option(help: "Node-local folder for Ray's per-job temp dirs (default /tmp).") var tempRoot = "/tmp"
    @Option(help: "Object store size per node, e.g. 2G: checked against /dev/shm.") var objectStoreMemory: String?
    @Flag(help: "A Ray without token authentication is a warning, not a failure (as with bootstrap --insecure-no-auth).") var insecureNoAuth = false
    @Flag(help: "Print the findings as JSON.") var json = false
    // bootstrap's arguments as `gen-sbatch --template doctor` passes them: checked here as bootstrap checks them.
    @Option(help: "bootstrap's runtime_env YAML: checked to parse, with every ${VAR} set.") var runtimeEnv: String?
    @Option(parsing: .unconditional, help: "bootstrap's --max-restarts: checked.") var maxRestarts = RequeuePolicy().maxRestarts
    @Option(help: "bootstrap's --on-node-loss: checked.") var onNodeLoss = RequeuePolicy().onNodeLoss.rawValue

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        _ = try RequeuePolicy(checkingMaxRestarts: maxRestarts, onNodeLoss: onNodeLoss)
        if let runtimeEnv {
            _ = try RuntimeEnvironment.parse(yaml: LocalFileSystem().read(runtimeEnv), path: runtimeEnv, environment: environment)
        }
        var node = BootstrapOptions(launcher: LocalFileSystem().executablePath)
        node.policy = try address.policy()
        node.headNode = address.headNode
        node.ray = venv.map { "\($0)/bin/ray" } ?? ray
        node.tempRoot = tempRoot
        node.objectStoreBytes = try objectStoreMemory.map { (text) throws(Failure) in try ByteSize.parse(text, option: "--object-store-memory") }
        node.insecureNoAuth = insecureNoAuth
        let options = DoctorOptions(bootstrap: node, workingDir: workingDir)
        let allocation = try Allocation(environment: environment, hostname: ProcessInfo.processInfo.hostName)
        let report = try await Doctor(launcher: SrunLauncher(), directory: SystemNodeDirectory(environment: environment))
            .run(allocation: allocation, options: options, environment: environment, currentDirectory: LocalFileSystem().currentDirectory)
        print(json ? try Output.json(report) : report.table)
        if report.failed { throw ExitCode(ExitKind.runtime.code) }
    }
}

/// Each node's part of `doctor`, started by its srun step; not for direct use.
struct NodeDoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "_doctor", abstract: "Internal: doctor's checks on this node.", shouldDisplay: false)

    @Argument var plan: String

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let plan = try DoctorPlan(argument: plan)
        guard let node = environment["SLURMD_NODENAME"], !node.isEmpty else {
            throw Failure.environment("SLURMD_NODENAME is not set", hint: "_doctor only runs inside doctor's srun step")
        }
        for finding in NodeDoctor(plan: plan, facts: SystemNodeFacts(environment: environment)).run(node: node) {
            print(NodeDoctor.line(finding))
        }
    }
}
