import ArgumentParser
import Foundation
import SettleDataplane
import SettleDataplaneLinux
import SettleKubeProxyRules
import SettleModel

/// `settle bench …`: Settle's benchmarks, each reporting ratios against a baseline measured in the
/// same run (these machines are noisy; absolute numbers travel badly, ratios well).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run Settle's benchmarks (as root; they build kube-proxy-sized rulesets in a scratch namespace).",
        subcommands: [DataplaneBench.self, DesiredBench.self, AgentBench.self, AggregatorBench.self, IPVSBench.self, RawDump.self, Load.self]
    )
}

extension BenchCommand {
    /// Dumps kube-proxy's nftables tables without decoding: the baseline of `bench dataplane`.
    struct RawDump: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "raw-dump", abstract: "Dump kube-proxy's nftables tables over netlink without decoding (the kernel's floor).",
            shouldDisplay: false)

        @Option(help: "Network namespace name.")
        var netns: String?

        @Flag(help: "Fetch rules with one table-wide dump (as nft does) instead of one request per chain.")
        var wholeTable = false

        func run() async throws {
            do {
                let counts = try await NFTablesReader.rawDump(netns: netns, wholeTable: wholeTable)
                print("messages: \(counts.messages), bytes: \(counts.bytes), sets: \(counts.sets)")
            } catch {
                throw Terminal.failure(error.description)
            }
        }
    }
}
