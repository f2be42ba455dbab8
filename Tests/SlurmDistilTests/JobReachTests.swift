import Foundation
import Testing

@testable import SlurmDistil

/// Reaching a slurm-distil job from the login node by its Slurm id: no cluster, a fake queue.
@Suite struct JobReachTests {
    static let pendingLine =
        "JobId=1234 JobName=bt UserId=u(1000) JobState=PENDING Reason=Resources Dependency=(null) Requeue=1 Restarts=0 ExitCode=0:0 RunTime=00:00:00 TimeLimit=00:10:00 SubmitTime=2026-12-06T00:00:00 StartTime=2026-12-06T01:00:00 NodeList=(null) Command=/home/u/run/job.sh python -u x.py WorkDir=/home/u/run StdOut=/home/u/run/slurm-distil-logs/bt-1234.out"

    struct Queue: SlurmQueue {
        var line: String
        func job(_ id: String) throws(Failure) -> SlurmJobRecord { try SlurmJobRecord(parsing: line) }
    }

    @Test func scontrolsLineIsReadWithSpacesInsideValues() throws {
        let record = try SlurmJobRecord(parsing: Self.pendingLine)
        #expect(record.id == "1234" && record.name == "bt" && record.state == "PENDING" && record.reason == "Resources")
        #expect(record.startTime == "2026-12-06T01:00:00" && record.nodeList == nil && record.workDirectory == "/home/u/run")
        #expect(SlurmJobRecord.fields(Self.pendingLine)["Command"] == "/home/u/run/job.sh python -u x.py")
        #expect(record.pendingExplanation == "waiting for free nodes: the ones it needs are in use (Resources)")
        #expect(try SlurmJobRecord(parsing: "JobId=9 JobState=PENDING Reason=PartitionTimeLimit StartTime=Unknown").pendingExplanation.contains("submit with a shorter --time"))
        #expect(try SlurmJobRecord(parsing: "JobId=9 JobState=PENDING Reason=QOSMaxJobsPerUserLimit").pendingExplanation.hasPrefix("a limit of its QOS"))
        expectFailure(.runtime, containing: "cannot read Slurm's job record") { _ = try SlurmJobRecord(parsing: "slurm_load_jobs error: Invalid job id specified") }
    }

    @Test func aPendingJobIsExplainedWithoutAFolderYet() throws {
        let files = MemoryFileSystem()
        let location = try JobLocator(queue: Queue(line: Self.pendingLine), files: files).locate(job: "1234", folder: nil)
        #expect(location.folder == "/home/u/run/slurm-distil-logs/1234" && location.status == nil)
        let text = JobReport(location: location).text
        #expect(text.contains("Slurm job 1234 (bt): PENDING: waiting for free nodes: the ones it needs are in use (Resources); expected start 2026-12-06T01:00:00"))
        #expect(text.contains("bootstrap has not started yet"))
        expectFailure(.usage, containing: "has not started Ray yet") { _ = try location.client() }
    }

    @Test func aRequeuedJobListsItsEarlierAttempts() throws {
        let plan = BootstrapRunTests().plan
        var status = BootstrapStatus(plan: plan, startedAt: 1_700_000_000)
        status.status = .running
        status.attempt = 3
        var first = BootstrapStatus.Attempt(number: 1, startedAt: 1_699_990_000, nodes: ["n1", "n2"])
        first.status = .requeued
        first.requeueReason = "time limit"
        first.stopSeconds = 4.2
        first.resumable = true
        var second = BootstrapStatus.Attempt(number: 2, startedAt: 1_699_995_000, nodes: ["n1", "n3"])
        second.status = .requeued
        second.requeueReason = "node lost: n3"
        second.resumable = false
        status.attempts = [first, second, BootstrapStatus.Attempt(number: 3, startedAt: 1_700_000_000, nodes: plan.nodes)]
        let folder = "/home/u/run/slurm-distil-logs/1234"
        let files = MemoryFileSystem(files: [folder + "/status.json": String(decoding: try JSONEncoder().encode(status), as: UTF8.self)])
        let text = JobReport(location: try JobLocator(queue: Queue(line: Self.pendingLine), files: files).locate(job: "1234", folder: nil)).text
        #expect(text.contains("attempt 1 on n[1-2]: REQUEUED (time limit), stopped in 4.2 s\nattempt 2 on n[1,3]: REQUEUED (node lost: n3), the next attempt started over"), "\(text)")
        #expect(text.contains("attempt 3: bootstrap RUNNING"))
    }

    @Test func aRunningJobGivesItsDashboardTokenAndPipeline() async throws {
        var status = BootstrapStatus(plan: BootstrapRunTests().plan, startedAt: 1_700_000_000)
        status.status = .running
        status.submissionID = "sd_abc"
        status.seconds = [.gcsReady: 3.14, .headReady: 10.02, .rayReady: 11.5, .submitted: 11.9]
        let encoder = JSONEncoder()
        let folder = "/home/u/run/slurm-distil-logs/1234"
        let files = MemoryFileSystem(files: [
            folder + "/status.json": String(decoding: try encoder.encode(status), as: UTF8.self), folder + "/token": "abc123token\n",
        ])
        let running = Self.pendingLine.replacingOccurrences(of: "JobState=PENDING Reason=Resources", with: "JobState=RUNNING Reason=None")
            .replacingOccurrences(of: "NodeList=(null)", with: "NodeList=n[1-3]")
        let location = try JobLocator(queue: Queue(line: running), files: files).locate(job: "1234", folder: nil)
        let client = try location.client()
        #expect(client.address == status.dashboard && client.token?.value == "abc123token" && client.token?.source == folder + "/token")
        #expect(try location.submissionID() == "sd_abc")
        let text = JobReport(location: location, pipeline: RayJobInfo(submissionID: "sd_abc", status: .running)).text
        #expect(text.contains("Slurm job 1234 (bt): RUNNING on n[1-3] since 2026-12-06T01:00:00"))
        #expect(text.contains("bring-up: GCS 3.1 s, dashboard 10.0 s, all nodes 11.5 s, submitted 11.9 s"))
        #expect(text.contains("pipeline sd_abc: RUNNING"))
        #expect(!text.contains("abc123token"), "the token is never printed")
        let answering = FakeTransport(["GET \(status.dashboard)/api/jobs/sd_abc": json(200, #"{"submission_id":"sd_abc","status":"RUNNING"}"#)])
        let gathered = await JobReport.gather(location, transport: answering)
        #expect(gathered.pipeline?.status == .running && gathered.pipelineNote == nil)
        #expect(answering.requests.first?.headers["Authorization"] == "Bearer abc123token", "the job folder's token is used")
        let silent = await JobReport.gather(location, transport: FakeTransport([:]))
        #expect(silent.pipeline == nil && silent.pipelineNote?.hasPrefix("Ray did not answer") == true)
        #expect(silent.text.contains("pipeline sd_abc: (Ray not asked) (Ray did not answer"))
        // Either the job or the folder: the folder names the dashboard, the flags would contradict it.
        let direct = try JobLocator(queue: Queue(line: running), files: files).locate(job: nil, folder: folder)
        #expect(direct.slurm == nil && direct.status?.submissionID == "sd_abc")
        expectFailure(.usage, containing: "no job folder /elsewhere here") {
            _ = try JobLocator(queue: Queue(line: running), files: files).locate(job: nil, folder: "/elsewhere")
        }
    }

    @Test func theTunnelIsBoundToTheUsersLoopbackAndNeverShowsTheToken() throws {
        let tunnel = try DashboardTunnel(dashboard: "http://10.0.0.1:20201", via: "me@login", localPort: 9265, tokenPath: "/home/u/run/slurm-distil-logs/1234/token")
        #expect(tunnel.ssh == ["ssh", "-N", "-L", "127.0.0.1:9265:10.0.0.1:20201", "me@login"])
        #expect(tunnel.localURL == "http://127.0.0.1:9265")
        #expect(tunnel.instructions.contains("ssh -N -L 127.0.0.1:9265:10.0.0.1:20201 me@login"))
        #expect(tunnel.instructions.contains("/home/u/run/slurm-distil-logs/1234/token"))
        expectFailure(.usage, containing: "invalid --via") { _ = try DashboardTunnel(dashboard: "http://h:1", via: "-oProxyCommand=x", localPort: 1, tokenPath: nil) }
        expectFailure(.usage, containing: "--local-port 0") { _ = try DashboardTunnel(dashboard: "http://h:1", via: "login", localPort: 0, tokenPath: nil) }
    }
}
