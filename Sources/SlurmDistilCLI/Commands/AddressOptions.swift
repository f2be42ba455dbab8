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
        try AddressPolicy(addressFrom: addressFrom, interface: interface)
    }
}
