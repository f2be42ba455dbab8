import SlurmDistilCLI

await CommandRunner.main(arguments: Array(CommandLine.arguments.dropFirst()))
