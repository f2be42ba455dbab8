/// Starts srun steps as child processes of bootstrap; their exits are awaited on threads of their own.
public struct SrunLauncher: StepLauncher {
    public init() {}

    public func start(_ step: StepCommand, environment: [String: String]) throws(Failure) -> any RunningStep {
        let child = try ChildProcess.spawn(step.arguments[0], Array(step.arguments.dropFirst()), environment: environment, stdin: .null)
        return SrunStep(name: step.name, nodes: step.nodes, process: WatchedProcess(child))
    }

    public func run(_ arguments: [String], environment: [String: String], outputPath: String) async throws(Failure) -> Int32 {
        let child = try ChildProcess.spawn(
            arguments[0], Array(arguments.dropFirst()), environment: environment, stdout: .file(outputPath, append: false),
            stderr: .file(outputPath, append: true))
        return await WatchedProcess(child).exited()
    }
}

struct SrunStep: RunningStep {
    let name: String
    let nodes: [String]
    let process: WatchedProcess

    var exitStatus: Int32? { process.exitStatus }
    func send(_ signal: Int32) { process.send(signal) }
    func exited() async -> Int32 { await process.exited() }
}
