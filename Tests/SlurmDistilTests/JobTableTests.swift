import Foundation
import Testing

@testable import SlurmDistil
@testable import SlurmDistilCLI

/// `list`: what Ray's /api/jobs/ answers, as the table and the JSON show it.
@Suite struct JobTableTests {
    static let listing = json(
        200,
        #"""
        [{"submission_id": "raysubmit_fM2GZnE6qXtLazxy", "status": "SUCCEEDED", "entrypoint": "python -u a.py", "start_time": 2},
         {"submission_id": "sd_0123abcd", "status": "RUNNING", "entrypoint": "python - <<'EOF'\nimport ray\n\tprint(1)\nEOF", "start_time": 1},
         {"job_id": "02000000", "status": "FAILED", "start_time": 3}]
        """#)

    func jobs() async throws -> [RayJobInfo] {
        let transport = FakeTransport(["GET /api/jobs/": Self.listing])
        return try await RayJobsClient(address: "http://ray:8265", token: nil, transport: transport).jobs()
    }

    @Test func idsWholeAndEntrypointsOnOneLineOldestFirst() async throws {
        let lines = JobTable.render(try await jobs(), width: nil).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 5 && lines[4].isEmpty, "a header, one line per job, a final newline: \(lines)")
        #expect(lines[0].hasPrefix("SUBMISSION ID "))
        #expect(lines[1].hasPrefix("sd_0123abcd "))
        #expect(lines[1].hasSuffix(#"RUNNING    python - <<'EOF'\nimport ray\n\tprint(1)\nEOF"#))
        #expect(lines[2].hasPrefix("raysubmit_fM2GZnE6qXtLazxy  SUCCEEDED  python -u a.py"))
        #expect(lines[3].hasPrefix("02000000 ") && lines[3].hasSuffix("FAILED"), "no entrypoint, no trailing blanks")
        let statusColumn = lines[2].range(of: "SUCCEEDED")!.lowerBound.utf16Offset(in: lines[2])
        for line in lines.dropLast() {
            #expect(line.utf16.count > statusColumn && line.utf16[line.utf16.index(line.utf16.startIndex, offsetBy: statusColumn - 1)] == 0x20)
        }
    }

    @Test func cutToTheTerminalOnlyWhenStdoutIsOne() {
        var job = RayJobInfo(submissionID: "raysubmit_fM2GZnE6qXtLazxy", status: .running)
        job.entrypoint = "python pipeline.py " + String(repeating: "--flag ", count: 40)
        let whole = JobTable.render([job], width: nil)
        #expect(whole.contains(job.entrypoint!))
        for line in JobTable.render([job], width: 60).split(separator: "\n") {
            #expect(line.count <= 60)
        }
        #expect(JobTable.render([job], width: 60).hasSuffix("\nraysubmit_fM2GZnE6qXtLazxy  RUNNING    python pipeline.py -…\n"))
        // Too narrow for the columns: the id stays whole and some of the command is shown.
        let narrow = JobTable.render([job], width: 12)
        #expect(narrow.hasSuffix("\nraysubmit_fM2GZnE6qXtLazxy  RUNNING    python pi…\n"))
    }

    @Test func escapesWhatWouldBreakTheLine() {
        #expect(JobTable.oneLine("a\\nb\nc\r\td\u{1b}[31m\u{7f}é") == #"a\\nb\nc\r\td\u{1b}[31m\u{7f}é"#)
    }

    @Test func jsonKeepsEveryRecordWhole() async throws {
        let jobs = try await jobs()
        let text = try Output.json(jobs)
        let decoded = try JSONDecoder().decode([RayJobInfo].self, from: Data(text.utf8))
        #expect(decoded == jobs)
        #expect(decoded.contains { $0.entrypoint?.contains("\nimport ray\n") == true })
    }
}
