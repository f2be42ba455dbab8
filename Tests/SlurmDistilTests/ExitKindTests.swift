import Foundation
import Testing
import TestSupport

@testable import SlurmDistil

/// The exit codes have one owner; help texts and the README are made from it.
@Suite struct ExitKindTests {
    @Test func theReadmeTableIsTheGeneratedOne() throws {
        let readme = try String(contentsOf: PackagePaths.root.appending(path: "README.md"), encoding: .utf8)
        #expect(readme.contains(ExitKind.markdownTable + "\n"), "README.md's exit-code table must read:\n\(ExitKind.markdownTable)")
    }

    @Test func eachCommandListsTheStatusesItCanEndWith() {
        let submit = ExitKind.helpText(for: [.jobFollowers, .interactiveFollowers])
        #expect(submit.contains("130 interrupted") && !submit.contains("143") && !submit.contains("  8 "))
        #expect(submit.contains("N   the job FAILED with its entrypoint's exit code N"))
        let bootstrap = ExitKind.helpText(for: [.jobFollowers, .bootstrap])
        #expect(bootstrap.contains("143 got SIGTERM") && bootstrap.contains("8   the pipeline printed nothing") && !bootstrap.contains("130"))
        let everyCommand = ExitKind.helpText(for: [])
        #expect(!everyCommand.contains("N   ") && everyCommand.contains("5   a server refused"))
    }

    @Test func codesAreDistinctAndDescribed() {
        #expect(Set(ExitKind.allCases.map(\.code)).count == ExitKind.allCases.count)
        #expect(ExitKind.describe(8) == "8 (the pipeline printed nothing for --stall-timeout and was stopped)")
        #expect(ExitKind.describe(42) == "42 (the entrypoint's own exit code)")
    }
}
