import Foundation

/// What every node's part of `doctor` checks: made on the batch node, handed to the one srun step as a
/// single argument (JSON), read back by `_doctor` on each node with this same type.
public struct DoctorPlan: Codable, Sendable, Equatable {
    public var jobID: String
    public var nodes: [String]
    public var head: String
    public var headAddress: String
    public var policy: String
    public var interface: String?
    public var ray: String
    public var tempRoot: String
    public var objectStoreBytes: Int?
    public var ports: RayPorts
    /// Folders every node must see as the same, each with the file the batch node wrote there.
    public var sharedProbes: [SharedProbe]
    public var nonce: String
    public var insecureNoAuth: Bool
    /// How long the head listens for the workers' connections.
    public var rendezvousSeconds: Double

    public struct SharedProbe: Codable, Sendable, Equatable {
        /// What the folder is to the user: the submit folder, the working dir, the venv.
        public var role: String
        public var folder: String
        public var file: String
    }

    public var argument: String {
        String(decoding: (try? JSONEncoder().encode(self)) ?? Data(), as: UTF8.self)
    }

    public init(argument: String) throws(Failure) {
        do {
            self = try JSONDecoder().decode(DoctorPlan.self, from: Data(argument.utf8))
        } catch {
            throw Failure.usage("_doctor: cannot read its plan", hint: "_doctor is started by `slurm-distil doctor` only")
        }
    }

    public init(
        jobID: String, nodes: [String], head: String, headAddress: String, policy: AddressPolicy, ray: String, tempRoot: String,
        objectStoreBytes: Int?, ports: RayPorts, sharedProbes: [SharedProbe], nonce: String, insecureNoAuth: Bool, rendezvousSeconds: Double = 6
    ) {
        self.jobID = jobID
        self.nodes = nodes
        self.head = head
        self.headAddress = headAddress
        self.policy = policy.argument
        if case .interface(let name) = policy { interface = name }
        self.ray = ray
        self.tempRoot = tempRoot
        self.objectStoreBytes = objectStoreBytes
        self.ports = ports
        self.sharedProbes = sharedProbes
        self.nonce = nonce
        self.insecureNoAuth = insecureNoAuth
        self.rendezvousSeconds = rendezvousSeconds
    }

    public func addressPolicy() throws(Failure) -> AddressPolicy {
        try AddressPolicy(addressFrom: policy, interface: interface)
    }
}
