/// The srun steps a run has started, in order: checked while Ray should be running, ended at teardown.
final class StepRegistry: Sendable {
    private let steps = Locked<[any RunningStep]>([])

    func add(_ step: any RunningStep) {
        steps.withLock { $0.append(step) }
    }

    var all: [any RunningStep] { steps.value }

    /// A step that ended while Ray should be running is a failure to report at once.
    func check(plan: BootstrapPlan, folder: any JobFolder) throws(Failure) {
        for step in all {
            guard let status = step.exitStatus else { continue }
            throw Failure(
                .runtime,
                "the \(step.name) step (\(HostList.compact(step.nodes))) exited with status \(status) while Ray was starting or running\n\(tails(step.nodes, folder))",
                hint: "see \(plan.jobFolder)/ray-NODE.log; a wrong venv or Ray missing on a node shows there")
        }
    }

    /// The end of a few nodes' Ray logs, for error messages.
    func tails(_ nodes: [String], _ folder: any JobFolder) -> String {
        nodes.prefix(4).map { node in
            "--- last lines of \(folder.path)/ray-\(node).log:\n" + folder.tail(ofNode: node, lines: 12)
        }.joined(separator: "\n")
    }
}
