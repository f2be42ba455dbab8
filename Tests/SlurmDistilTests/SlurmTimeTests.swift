import Testing

@testable import SlurmDistil
import TestSupport

@Suite struct SlurmTimeTests {
    @Test(arguments: [
        ("30", 1_800, "00:30:00"),
        ("90", 5_400, "01:30:00"),
        ("5:30", 330, "00:05:30"),
        ("0:30:00", 1_800, "00:30:00"),
        ("36:00:00", 129_600, "1-12:00:00"),
        ("2-12", 216_000, "2-12:00:00"),
        ("1-0:30", 88_200, "1-00:30:00"),
        ("1-02:03:04", 93_784, "1-02:03:04"),
    ])
    func acceptsSlurmForms(text: String, seconds: Int, canonical: String) throws {
        let time = try SlurmTime(parsing: text)
        #expect(time.seconds == seconds)
        #expect(time.description == canonical)
    }

    @Test func acceptsUnlimited() throws {
        #expect(try SlurmTime(parsing: "UNLIMITED") == .unlimited)
        #expect(try SlurmTime(parsing: "infinite") == .unlimited)
    }

    @Test(arguments: [
        "", "abc", "1:2:3:4", "1-2-3", "-5", "1:60", "0:61:00", "1-24", "1-1:60", "1:", ":30", "1h", "0",
        "0:00:00", "30 ", "１", "1-", "1\n", "99999999999",
    ])
    func refusesEverythingElse(text: String) {
        expectFailure(.usage, containing: "time limit") { _ = try SlurmTime(parsing: text) }
    }

    @Test func refusalListsTheAcceptedForms() {
        do {
            _ = try SlurmTime(parsing: "2 hours")
            Issue.record("accepted '2 hours'")
        } catch {
            #expect(error.hint?.contains("DAYS-HOURS:MINUTES:SECONDS") == true)
            #expect(error.hint?.contains("UNLIMITED") == true)
        }
    }

    /// The edge is where libslurm 22.05's time_str2mins stops giving the right number of minutes.
    @Test func acceptsWhatSbatchReadsCorrectlyAndNothingLonger() throws {
        #expect(try SlurmTime(parsing: "24855-03:13:08").seconds == 2_147_483_588)
        #expect(try SlurmTime(parsing: "35791393").seconds == 35_791_393 * 60)
        for text in ["24855-03:13:09", "35791394", "99999999:00:00", "4166666-15:00:00"] {
            expectFailure(.usage, containing: "beyond what Slurm can take (at most 24855-03:13:08)") { _ = try SlurmTime(parsing: text) }
        }
    }

    @Test(arguments: [("120", 120), ("90s", 90), ("2m", 120), ("1h", 3_600)])
    func parsesDurations(text: String, seconds: Int) throws {
        #expect(try DurationText.seconds(parsing: text, option: "--x") == seconds)
    }

    @Test(arguments: ["", "m", "1.5m", "-3", "2d", "1 m"])
    func refusesBadDurations(text: String) {
        expectFailure(.usage, containing: "invalid duration") { _ = try DurationText.seconds(parsing: text, option: "--x") }
    }
}
