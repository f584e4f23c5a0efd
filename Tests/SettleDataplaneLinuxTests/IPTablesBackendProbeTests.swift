import Foundation
import SettleDataplane
@testable import SettleDataplaneLinux
import Testing

/// `auto` decides the iptables backend over netlink and `/proc` first and runs only the save tools whose
/// output can change the answer (``IPTablesBackendProbe``); the results stay those of reading both.
@Suite(.serialized, requiresRoot)
struct IPTablesBackendProbeTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../SettleDataplaneTests/Fixtures/iptables").standardized

    static func fixture(_ name: String) throws -> String {
        try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8)
    }

    /// Rules only in the nft backend: no legacy tool runs, and detecting runs no tool at all.
    @Test func nftOnlyRunsNoLegacyTool() async throws {
        let ns = try TestNamespace()
        try ns.exec("iptables-nft-restore", [], input: try Self.fixture("cluster-v4.txt"))
        let probe = try #require(await IPTablesBackendProbe.run(netns: ns.name))
        #expect(probe.nftHasKubeProxyChains)
        #expect(!probe.nftHasHintChains)
        #expect(!probe.legacyMayHoldRules)

        let log = IPTablesSaveRunner.CommandLog()
        let runner = IPTablesSaveRunner(netns: ns.name, log: log)
        #expect(await IPTablesReader.detect(runner: runner, probe: probe) == .nft)
        #expect(log.commands == [])
        let dump = try #require(try await IPTablesReader.choose(runner: runner, probe: probe))
        #expect(dump.backend == .nft)
        #expect(dump.warnings == [])
        #expect(!log.commands.isEmpty)
        #expect(!log.commands.contains { $0.contains("legacy") })
        // Same answer as reading both backends.
        let both = try #require(try await IPTablesReader.choose(runner: IPTablesSaveRunner(netns: ns.name), probe: nil))
        #expect(both.backend == .nft)
        #expect(IPTablesWalker.snapshot(ipv4: dump.ipv4, ipv6: dump.ipv6) == IPTablesWalker.snapshot(ipv4: both.ipv4, ipv6: both.ipv6))
    }

    /// Rules only in the legacy backend: no nft save tool runs.
    @Test func legacyOnlyRunsNoNFTTool() async throws {
        let ns = try TestNamespace()
        try ns.exec("iptables-legacy-restore", [], input: try Self.fixture("cluster-v4.txt"))
        let probe = try #require(await IPTablesBackendProbe.run(netns: ns.name))
        #expect(!probe.nftHasKubeProxyChains)
        #expect(probe.legacyMayHoldRules)

        let log = IPTablesSaveRunner.CommandLog()
        let runner = IPTablesSaveRunner(netns: ns.name, log: log)
        #expect(await IPTablesReader.detect(runner: runner, probe: probe) == .legacy)
        let dump = try #require(try await IPTablesReader.choose(runner: runner, probe: probe))
        #expect(dump.backend == .legacy)
        #expect(!log.commands.contains { $0.contains("nft") })
    }

    /// Both backends with kube-proxy chains and no hints: legacy is still read, nft wins with the warning.
    @Test func bothWithoutHintsChoosesNFTWithWarning() async throws {
        let ns = try TestNamespace()
        try ns.exec("iptables-nft-restore", [], input: try Self.fixture("cluster-v4.txt"))
        try ns.exec("iptables-legacy-restore", [], input: try Self.fixture("large-cluster-v4.txt"))
        let probe = try #require(await IPTablesBackendProbe.run(netns: ns.name))
        #expect(probe.nftHasKubeProxyChains && probe.legacyMayHoldRules)

        let log = IPTablesSaveRunner.CommandLog()
        let runner = IPTablesSaveRunner(netns: ns.name, log: log)
        #expect(await IPTablesReader.detect(runner: runner, probe: probe) == .nft)
        let dump = try #require(try await IPTablesReader.choose(runner: runner, probe: probe))
        #expect(dump.backend == .nft)
        #expect(dump.warnings.contains { $0.contains("both iptables-nft and iptables-legacy") })
        #expect(log.commands.contains { $0.hasPrefix("iptables-legacy-save") })
        let both = try #require(try await IPTablesReader.choose(runner: IPTablesSaveRunner(netns: ns.name), probe: nil))
        #expect(both.backend == dump.backend && both.warnings == dump.warnings)
    }
}
