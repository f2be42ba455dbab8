import ArgumentParser
import Foundation
import SlurmDistil

struct Tunnel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print (or run) the ssh command that brings a job's dashboard to your own machine.",
        discussion: """
            Run it on the login node (where the job folder is mounted): it prints the command for your laptop.
            The token is never printed; it says where to read it.

            Examples:
              slurm-distil tunnel 1234                       # via this login node
              slurm-distil tunnel 1234 --via me@login.hpc.org --local-port 9265
              slurm-distil tunnel 1234 --run                 # from a machine that reaches the login node
            """)

    @Argument(help: "The Slurm job id.") var job: String?
    @Option(help: "The job folder instead of the Slurm job id.") var jobFolder: String?
    @Option(help: "The host ssh reaches that reaches the head (default: this machine's name).") var via: String?
    @Option(help: "The port on your machine.") var localPort = 8265
    @Flag(help: "Run ssh now instead of printing the command.") var run = false
    @Flag(help: "Print the command and address as JSON.") var json = false

    func run() async throws {
        let location = try JobLocator(queue: ScontrolQueue(environment: ProcessInfo.processInfo.environment), files: LocalFileSystem())
            .locate(job: job, folder: jobFolder)
        guard let status = location.status else { _ = try location.client(); return }
        let tunnel = try DashboardTunnel(
            dashboard: status.dashboard, via: via ?? ProcessInfo.processInfo.hostName, localPort: localPort,
            tokenPath: status.authentication == .token ? location.folder + "/token" : nil)
        if json {
            print(try Output.json(tunnel))
        } else if !run {
            print(tunnel.instructions)
        }
        guard run else { return }
        StandardError.write("slurm-distil: \(ShellQuoting.join(tunnel.ssh)); dashboard at \(tunnel.localURL) until Ctrl-C\n")
        throw ExitCode(try ChildProcess.spawn(tunnel.ssh[0], Array(tunnel.ssh.dropFirst()), stdin: .inherit).wait())
    }
}
