import ArgumentParser
import SlurmDistil

/// How node addresses are chosen; shared by `hosts` and `bootstrap`.
struct AddressOptions: ParsableArguments {
    @Option(help: "Where node addresses come from: auto (Slurm's node records, else DNS), slurm, dns, interface.")
    var addressFrom: String = "auto"

    @Option(help: "Use each node's address on this interface (e.g. ib0); implies --address-from interface.")
    var interface: String?

    @Option(help: "The node that runs Ray's head (default: the first node of the allocation).")
    var headNode: String?

    func policy() throws(Failure) -> AddressPolicy {
        try Self.policy(addressFrom: addressFrom, interface: interface)
    }

    static func policy(addressFrom: String, interface: String?) throws(Failure) -> AddressPolicy {
        if let interface {
            guard addressFrom == "auto" || addressFrom == "interface" else {
                throw Failure.usage(
                    "--interface \(interface) conflicts with --address-from \(addressFrom)",
                    hint: "give one of them: --interface NAME alone selects interface addresses")
            }
            guard !interface.isEmpty, interface.count < 16, !interface.contains("/"), !interface.contains(" ") else {
                throw Failure.usage("invalid interface name \(interface.debugDescription)", hint: "give a name such as ib0 or eth0 (see `ip -brief address`)")
            }
            return .interface(interface)
        }
        switch addressFrom {
        case "auto": return .auto
        case "slurm": return .slurm
        case "dns": return .dns
        case "interface":
            throw Failure.usage("--address-from interface needs --interface NAME", hint: "e.g. --interface ib0")
        default:
            throw Failure.usage("unknown --address-from \(addressFrom.debugDescription)", hint: "choose auto, slurm, dns or interface")
        }
    }
}
