import ArgumentParser
import Foundation
import SettleDataplane
import SettleDataplaneLinux
import SettleModel

/// `settle dataplane`: what this node's dataplane routes, per service port.
struct DataplaneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataplane",
        abstract: "Show what this node's kube-proxy dataplane routes, per service port.",
        discussion: """
            Reads kube-proxy's rules from the kernel (read-only; needs root or CAP_NET_ADMIN) and \
            prints, for every service port, its frontends and the endpoints a NEW connection can be \
            sent to. Stale chains that kube-proxy has flushed but not yet deleted do not count: only \
            what is reachable from kube-proxy's dispatch maps and chains does.

            Exit status: 0 on success (also when no kube-proxy rules exist: the output says so), \
            2 when the dataplane cannot be read.
            """
    )

    @Option(help: "Which kube-proxy mode to read: auto, nftables, iptables or ipvs. auto picks the one holding kube-proxy's rules and says which. IPVS names no Services: its virtual servers are listed with service null.")
    var mode: ModeChoice = .auto

    @Option(help: "Read inside the network namespace /var/run/netns/NAME (as created by `ip netns add`).")
    var netns: String?

    @Option(help: "Output format: table or json.")
    var format: OutputFormat = .table

    @Option(help: "How to read nftables: netlink (libmnl + libnftnl, the default) or libnftables (nft's JSON; slower, a cross-check).")
    var via: NFTablesReader.Path = .netlink

    func run() async throws {
        do {
            let reader = try await DataplaneSelection.reader(mode: mode, netns: netns, via: via)
            let started = ContinuousClock.now
            let snapshot = try await reader.read()
            let readTime = ContinuousClock.now - started
            defer {
                if ProcessInfo.processInfo.environment["SETTLE_TIMING"] != nil {
                    Terminal.note("read \(readTime), output \(ContinuousClock.now - started - readTime)")
                }
            }
            if let note = reader.note { Terminal.note(note) }
            for warning in snapshot.warnings { Terminal.warn(warning) }
            switch format {
            case .json: try Terminal.printDataplaneJSON(DataplaneJSON(snapshot))
            case .table: print(DataplaneTable.render(snapshot), terminator: "")
            }
        } catch let error as DataplaneError {
            throw Terminal.failure(error.description)
        }
    }
}

/// `--mode` values.
enum ModeChoice: String, ExpressibleByArgument, CaseIterable, Sendable {
    case auto
    case nftables
    case iptables
    case ipvs
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table
    case json
}

extension NFTablesReader.Path: ExpressibleByArgument {}

/// The `dataplane` JSON document (brief §6): `mode`, `servicePorts`, and `warnings`.
struct DataplaneJSON: Encodable {
    var mode: DataplaneMode
    var servicePorts: [RoutedServicePort]
    var warnings: [String]

    init(_ snapshot: DataplaneSnapshot) {
        mode = snapshot.mode
        servicePorts = snapshot.servicePorts
        warnings = snapshot.warnings
    }
}
