import ArgumentParser
import Foundation
import SlurmDistil

struct Hosts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the allocation's nodes, their roles, the addresses Ray will use and why, GPUs and CPUs.",
        discussion: """
            Inside an allocation it reads SLURM_JOB_NODELIST and friends; outside one, give --nodelist.

            Examples:
              slurm-distil hosts                          # inside salloc or a batch script
              slurm-distil hosts --interface ib0 --json
              srun slurm-distil hosts --this-node --interface ib0   # what each node computes for itself
              slurm-distil hosts --nodelist 'gpu[01-04]' --address-from dns
            """
    )

    @OptionGroup var address: AddressOptions

    @Option(help: "Show this node list instead of the allocation's (works outside an allocation).")
    var nodelist: String?

    @Flag(help: "Print only this node's own address (as each node computes it).")
    var thisNode = false

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let allocation = try nodelist.map { (list) throws(Failure) in try Allocation(nodeList: list) }
            ?? Allocation(environment: environment, hostname: ProcessInfo.processInfo.hostName)
        let planner = AddressPlanner(directory: SystemNodeDirectory(environment: environment))
        let policy = try address.policy()
        if thisNode {
            guard let name = allocation.thisNode else {
                throw Failure.environment("SLURMD_NODENAME is not set, so this node's name is unknown", hint: "run it as a job step: srun slurm-distil hosts --this-node")
            }
            var local = allocation
            local.nodes = [name]
            local.cpusPerNode = []
            let entry = try planner.plan(local, policy: policy, headNode: name).hosts[0]
            print(json ? try Output.json(entry) : "\(name) \(entry.address ?? "-")")
            return
        }
        let survey = try planner.survey(allocation, policy: policy, headNode: address.headNode)
        print(json ? try Output.json(survey.plan) : HostsReport.table(survey.plan), terminator: json ? "\n" : "")
        // After the table: the nodes that have an address are worth seeing too.
        if let failure = survey.summary { throw failure }
    }
}

enum HostsReport {
    static func table(_ plan: HostPlan) -> String {
        var rows = [["NODE", "ROLE", "ADDRESS", "CPUS", "GPUS", "WHY"]]
        for host in plan.hosts {
            rows.append([
                host.name, host.role.rawValue, host.address ?? (host.problem == nil ? "(on node)" : "NONE"), host.cpus.map(String.init) ?? "-",
                String(host.gpus), host.reason,
            ])
        }
        let widths = (0..<5).map { column in rows.map { $0[column].count }.max() ?? 0 }
        var text = "job \(plan.jobID), nodes \(plan.nodeList) (\(plan.hosts.count)), head \(plan.head), addresses: \(plan.policy), GPUs from \(plan.gpuSource)\n"
        for row in rows {
            text += (0..<5).map { row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
            text += "  " + row[5] + "\n"
        }
        return text
    }
}
