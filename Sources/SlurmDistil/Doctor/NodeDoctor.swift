import Foundation

/// `_doctor` on one node, inside the doctor's one srun step: its own checks, and its side of the
/// network check (the head listens, workers connect). Each finding is one line on stdout.
public struct NodeDoctor: Sendable {
    public static let linePrefix = "SDDOCTOR "

    let plan: DoctorPlan
    let facts: any NodeFacts

    public init(plan: DoctorPlan, facts: any NodeFacts) {
        self.plan = plan
        self.facts = facts
    }

    public func run(node: String) -> [DoctorFinding] {
        let deadline = Date().addingTimeInterval(plan.rendezvousSeconds)
        let headPorts = plan.ports.headPorts
        if node == plan.head {
            // Listening first: the workers start connecting as soon as the step runs.
            let (listeners, taken) = Rendezvous.listen(on: plan.headAddress, ports: headPorts)
            // The cloud probe takes a second or more: on a thread of its own, so that the head answers
            // the workers (and measures their clocks) meanwhile.
            let cloudProbe = Locked<CloudProbeTimes?>(nil)
            let probed = DispatchSemaphore(value: 0)
            let checks = NodeChecks(plan: plan, node: node, facts: facts)
            Thread.detachNewThread { [facts] in
                cloudProbe.value = facts.cloudProbe()
                probed.signal()
            }
            var findings = checks.all()
            findings.append(
                taken.isEmpty
                    ? DoctorFinding(node, "ports", .pass, "Ray's ports \(plan.ports.base)-\(plan.ports.base + headPorts.count - 1) are free on \(plan.headAddress)")
                    : DoctorFinding(
                        node, "ports", .warn, "port\(taken.count == 1 ? "" : "s") \(taken.map(String.init).joined(separator: ", ")) of the job's block in use on \(node)",
                        hint: "bootstrap moves to the next free block; `ss -ltnp` shows who holds it"))
            let workers = plan.nodes.filter { $0 != plan.head }
            let seen = Rendezvous.accept(listeners, workers: workers, deadline: deadline)
            for worker in workers {
                guard let skew = seen[worker]?.skew else {
                    findings.append(DoctorFinding(worker, "clock", .warn, "no connection from \(worker) reached the head", hint: "see the tcp check of \(worker)"))
                    continue
                }
                let text = "\(skew >= 0 ? "+" : "")\(String(format: "%.3f", skew)) s against \(plan.head)"
                findings.append(
                    abs(skew) > 5
                        ? DoctorFinding(worker, "clock", .fail, text, hint: "the nodes' clocks disagree: timeouts and logs will be wrong; ask the site to check NTP")
                        : DoctorFinding(worker, "clock", abs(skew) > 1 ? .warn : .pass, text))
            }
            let ended = probed.wait(timeout: .now() + NodeChecks.cloudProbeLimit) == .success
            findings.append(checks.cloudProbe(ended ? cloudProbe.value : nil))
            return findings
        }
        var findings = NodeChecks(plan: plan, node: node, facts: facts).all()
        guard !plan.headAddress.isEmpty else {
            findings.append(DoctorFinding(node, "tcp", .warn, "the head's address is unknown, so nothing was tried", hint: "fix the head's address check first"))
            return findings
        }
        let missing = Rendezvous.connect(node: node, head: plan.headAddress, ports: headPorts, deadline: deadline.addingTimeInterval(-0.5))
        findings.append(
            missing.isEmpty
                ? DoctorFinding(node, "tcp", .pass, "reached \(plan.head) (\(plan.headAddress)) on all \(headPorts.count) head ports")
                : DoctorFinding(
                    node, "tcp", .fail, "could not reach \(plan.head) (\(plan.headAddress)) on port\(missing.count == 1 ? "" : "s") \(missing.map(String.init).joined(separator: ", "))",
                    hint: "a firewall between the nodes, or addresses on different networks: check --interface"))
        return findings
    }

    public static func line(_ finding: DoctorFinding) -> String {
        linePrefix + String(decoding: (try? JSONEncoder().encode(finding)) ?? Data(), as: UTF8.self)
    }
}
