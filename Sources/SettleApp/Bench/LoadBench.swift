import ArgumentParser
import Foundation
import SettleKubeProxyRules
import SettleModel

extension BenchCommand {
    /// Loads the benchmark's synthetic ruleset into an existing namespace and leaves it there, for
    /// profiling a reader by hand.
    struct Load: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "load", abstract: "Load the benchmark ruleset into an existing network namespace and keep it.")

        @Option(help: "Network namespace name (must exist).")
        var netns: String

        @Option(help: "Number of services.")
        var services = 10_000

        @Option(help: "Endpoints per service.")
        var endpoints = 5

        @Option(help: "nftables layout: endpointChains, inlineMap, directSingle; or iptables.")
        var layout = "endpointChains"

        func run() async throws {
            let ports = BenchServices.make(count: services, endpoints: endpoints)
            let ns = BenchNamespace(existing: netns)
            let start = ContinuousClock.now
            if layout == "iptables" {
                try ns.load(IPTablesRuleWriter(family: .ipv4).restoreInput(for: ports), with: ["iptables-nft-restore"])
            } else {
                guard let l = NFTablesRuleWriter.Layout(rawValue: layout) else { throw ValidationError("unknown layout \(layout)") }
                for batch in NFTablesRuleWriter(layout: l).batches(for: ports) { try ns.load(batch, with: ["nft", "-f"]) }
            }
            print("loaded \(services) services (\(layout)) in \(DataplaneBench.format(ContinuousClock.now - start))")
        }
    }
}
