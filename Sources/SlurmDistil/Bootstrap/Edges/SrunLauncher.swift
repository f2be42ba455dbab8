#if canImport(Glibc)
    import Glibc
#endif

/// Starts srun steps as child processes of bootstrap; their exits are awaited on threads of their own.
public struct SrunLauncher: StepLauncher {
    public init() {}

    public func start(_ step: StepCommand, environment: [String: String]) throws(Failure) -> any RunningStep {
        let child = try ChildProcess.spawn(step.arguments[0], Array(step.arguments.dropFirst()), environment: environment, stdin: .null)
        return SrunStep(name: step.name, nodes: step.nodes, process: WatchedProcess(child))
    }

    public func run(_ arguments: [String], environment: [String: String], outputPath: String, timeout: Double) async throws(Failure) -> Int32? {
        let child = try ChildProcess.spawn(
            arguments[0], Array(arguments.dropFirst()), environment: environment, stdout: .file(outputPath, append: false),
            stderr: .file(outputPath, append: true))
        let process = WatchedProcess(child)
        let deadline = ContinuousClock.now + .seconds(timeout)
        while process.exitStatus == nil, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        guard let status = process.exitStatus else {
            // srun ends its step on SIGINT twice in a row; a kill of srun alone would leave the tasks.
            process.send(SIGINT)
            try? await Task.sleep(for: .milliseconds(200))
            process.send(SIGINT)
            try? await Task.sleep(for: .seconds(2))
            process.send(SIGKILL)
            _ = await process.exited()
            return nil
        }
        return status
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
