/// distilabel's cache as one attempt leaves it for the next: repaired so that `use_cache=True` resumes
/// after a graceful stop, set aside (kept, not deleted) otherwise: after a hard kill or a lost node a
/// batch the cache counts as taken never came out, and resuming would lose its rows or wait for it forever.
public struct DistilabelResumeState: ResumeState {
    let cache: DistilabelCache
    let attempt: Int

    public init(cachePath: String, attempt: Int, files: any FileSystem) {
        cache = DistilabelCache(path: cachePath, files: files)
        self.attempt = attempt
    }

    public func prepare(previousAttemptResumable: Bool) -> [String] {
        guard cache.files.fileExists(cache.path) else { return [] }
        let problems = cache.check()
        if previousAttemptResumable, problems.isEmpty {
            do throws(Failure) {
                let repair = try cache.repair()
                guard !repair.changes.isEmpty else { return ["distilabel cache \(cache.path): resumes as it is (\(repair.summary))"] }
                return ["distilabel cache \(cache.path) repaired so that it resumes (argilla-io/distilabel#1065): \(repair.summary)"] + repair.changes.map(\.description)
            } catch {
                return setAside(because: error.message)
            }
        }
        return setAside(because: previousAttemptResumable ? problems.joined(separator: "; ") : "the previous attempt did not stop gracefully, or lost a node with batches in flight")
    }

    private func setAside(because reason: String) -> [String] {
        let destination = "\(cache.path).unsafe-before-attempt-\(attempt)"
        do throws(Failure) {
            try cache.setAside(to: destination)
            return ["distilabel cache set aside to \(destination) (\(reason)): this attempt starts the pipeline from the beginning"]
        } catch {
            return ["warning: distilabel cache \(cache.path) could not be set aside (\(error.message)); the pipeline may not resume"]
        }
    }
}
