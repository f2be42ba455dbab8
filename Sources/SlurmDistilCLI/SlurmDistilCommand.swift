import ArgumentParser
import SlurmDistil

public struct SlurmDistilCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "slurm-distil",
        abstract: "Run Ray pipelines (distilabel, Ray Data, vLLM) on a Slurm allocation, and nothing left behind.",
        discussion: """
            Typical use:
              slurm-distil gen-sbatch --nodes 2 --gpus-per-node 1 --time 0:30:00 -- python -u pipeline.py > job.sh
              sbatch job.sh

            \(ExitKind.helpText(for: [.jobFollowers, .interactiveFollowers, .bootstrap]))
            """,
        version: SlurmDistilVersion.current,
        subcommands: [GenSbatch.self, Bootstrap.self, Templates.self, Hosts.self, Submit.self, Status.self, Logs.self, Stop.self, List.self, Delete.self, Tunnel.self, DoctorCommand.self, NodeCommand.self, NodeDoctorCommand.self, RepairDistilabelCacheCommand.self]
    )

    public init() {}
}
