import ArgumentParser
import SlurmDistil

/// By hand, the fix-up a resumed attempt applies to a distilabel cache (research/distilabel-resume/NOTES.md).
struct RepairDistilabelCacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_repair-distilabel-cache",
        abstract: "Internal: make a distilabel 1.5 cache resume after a SIGINT stop instead of hanging (argilla-io/distilabel#1065).",
        discussion: """
            For each step, an input batch it used up is recorded so that Pipeline.run(use_cache=True) waits forever;
            this moves the step on to the next batch. Every file changed is kept once as <file>.orig. Fails, changing
            nothing, when a cache file is missing, empty or torn (a hard kill): move the cache away and start from zero.
            """,
        shouldDisplay: false)

    @Argument(help: "The cache folder (DISTILABEL_CACHE_DIR).") var path: String
    @Flag(help: "Print what would change, write nothing.") var dryRun = false

    func run() throws {
        let cache = DistilabelCache(path: path, files: LocalFileSystem())
        let problems = cache.check()
        guard problems.isEmpty else {
            throw Failure(
                .runtime, "cannot resume from the distilabel cache \(path):\n  " + problems.joined(separator: "\n  "),
                hint: "a hard kill left it so; move \(path) away to start from zero")
        }
        for line in try cache.repair(dryRun: dryRun).lines {
            print(line)
        }
    }
}
