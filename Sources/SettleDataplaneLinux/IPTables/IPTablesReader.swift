#if os(Linux)
import Foundation
import Logging
public import SettleDataplane
public import SettleModel

/// Reads kube-proxy's iptables-mode rules (IPv4 and IPv6) with the `*-save` tools and walks them with
/// ``IPTablesWalker``.
///
/// kube-proxy's image picks iptables-legacy or iptables-nft per node (`kubernetes-sigs/iptables-wrappers`
/// `pkg/xtables/detect.go` (DetectMode)), and the two keep separate rule sets, so reading the wrong one
/// shows nothing or stale rules (reference §2.5). `auto` uses the one holding
/// `KUBE-SERVICES`; when both do (a half-finished migration), the one holding kubelet's hint chains
/// (`KUBE-IPTABLES-HINT`, `KUBE-KUBELET-CANARY`) wins, as in DetectMode, and nft otherwise. It first
/// looks over netlink and in `/proc` (``IPTablesBackendProbe``) and runs only the tools whose output can
/// change the answer: usually one backend's, not both.
///
/// The nft tools are asked for `-t nat` and `-t filter` (reading an nf_tables table never creates it).
/// The legacy tools are run without `-t`: naming a legacy table loads its module and creates the table,
/// and the agent never writes to the dataplane. Rules are never read through `nft`, whose JSON loses
/// comments and probabilities of xt matches.
public struct IPTablesReader: DataplaneReader {
    /// Which iptables front end's rules to read.
    public enum Backend: String, Sendable, Hashable, CaseIterable {
        /// Use the backend with kube-proxy's chains (the nft one when both have them and neither or
        /// both have kubelet's hint chains).
        case auto
        /// nf_tables through iptables-nft (`iptables-nft-save`, `ip6tables-nft-save`).
        case nft
        /// x_tables through iptables-legacy (`iptables-legacy-save`, `ip6tables-legacy-save`).
        case legacy
    }

    /// Chains kubelet creates in mangle; their presence names the backend a node uses (DetectMode).
    static let hintChains = ["KUBE-IPTABLES-HINT", "KUBE-KUBELET-CANARY"]

    public let netns: String?
    public let backend: Backend
    public var mode: DataplaneMode { .iptables }
    private let logger = Logger(label: "settle.dataplane.iptables")

    public init(netns: String? = nil, backend: Backend = .auto) {
        self.netns = netns
        self.backend = backend
    }

    /// One backend's dumps: both families, parsed.
    struct Dump: Sendable {
        var backend: Backend
        var ipv4: IPTablesSave
        var ipv6: IPTablesSave?
        var warnings: [String]

        var hasKubeProxyChains: Bool {
            ipv4.containsChain("KUBE-SERVICES") || (ipv6?.containsChain("KUBE-SERVICES") ?? false)
        }

        func hasHintChains(in saves: [IPTablesSave?]) -> Bool {
            saves.contains { save in IPTablesReader.hintChains.contains { save?.containsChain($0) ?? false } }
        }
    }

    public func read() async throws(DataplaneError) -> DataplaneSnapshot {
        if let netns { try NetworkNamespace.validate(netns) }
        let runner = IPTablesSaveRunner(netns: netns)
        let dump: Dump?
        switch backend {
        case .nft, .legacy: dump = try await Self.dump(backend, runner: runner)
        case .auto: dump = try await Self.choose(runner: runner, probe: await IPTablesBackendProbe.run(netns: netns))
        }
        guard let dump else {
            return DataplaneSnapshot(mode: .iptables, servicePorts: [], warnings: [IPTablesWalker.noChainsWarning])
        }
        var snapshot = IPTablesWalker.snapshot(ipv4: dump.ipv4, ipv6: dump.ipv6)
        snapshot.warnings = dump.warnings + snapshot.warnings
        for warning in snapshot.warnings {
            logger.warning("\(warning)", metadata: ["backend": "\(dump.backend.rawValue)", "netns": "\(netns ?? "-")"])
        }
        return snapshot
    }

    /// Does this node (or namespace) run kube-proxy in iptables mode, and with which backend?
    ///
    /// Returns `.nft` or `.legacy`, or `nil` when neither holds kube-proxy's `KUBE-SERVICES` chain or
    /// nothing can be read (no tools, no permission, no such namespace). For `settle dataplane --mode auto`.
    /// The nft backend is checked over netlink (``IPTablesBackendProbe``, milliseconds); a save tool runs
    /// only for the legacy backend, and only when it has tables loaded or nft holds no kube-proxy chains.
    /// Without netlink access it falls back to reading both backends' nat tables, about one read.
    public static func detect(netns: String? = nil) async -> Backend? {
        if let netns, (try? NetworkNamespace.validate(netns)) == nil { return nil }
        return await detect(runner: IPTablesSaveRunner(netns: netns), probe: await IPTablesBackendProbe.run(netns: netns))
    }

    /// ``detect(netns:)`` with the runner and probe given (tests record the tools run).
    static func detect(runner: IPTablesSaveRunner, probe: IPTablesBackendProbe?) async -> Backend? {
        guard let probe else { return (try? await choose(runner: runner, probe: nil))?.backend }
        // A read of the nft backend needs iptables-nft-save; without it the nft rules do not count, as before.
        let nft = probe.nftHasKubeProxyChains && IPTablesSaveRunner.locate("iptables-nft-save") != nil
        var legacy: Dump?
        if !nft || probe.legacyMayHoldRules { legacy = try? await dump(.legacy, runner: runner) }
        let decision = await decide(
            nft: nft, legacy: legacy?.hasKubeProxyChains ?? false, nftHasHints: { probe.nftHasHintChains },
            legacyHasHints: { legacy.map { $0.hasHintChains(in: [$0.ipv4, $0.ipv6]) } ?? false })
        return decision.backend
    }

    /// Picks the backend from which ones hold `KUBE-SERVICES`; `tie` when both do (decided by kubelet's
    /// hint chains: nft's first, then legacy's, else nft).
    static func decide(
        nft: Bool, legacy: Bool, nftHasHints: () async -> Bool, legacyHasHints: () -> Bool
    ) async -> (backend: Backend?, tie: Bool) {
        switch (nft, legacy) {
        case (true, false): return (.nft, false)
        case (false, true): return (.legacy, false)
        case (false, false): return (nil, false)
        case (true, true):
            if await nftHasHints() { return (.nft, true) }
            return (legacyHasHints() ? .legacy : .nft, true)
        }
    }

    /// Reads the backend with kube-proxy's chains; `nil` when neither has them. Throws only when neither
    /// backend could be read at all.
    ///
    /// With a `probe`, a backend is read only when it can matter: nft only when it holds `KUBE-SERVICES`,
    /// legacy only when nft does not or legacy has tables loaded (to see a tie). Without one, both are read.
    static func choose(runner: IPTablesSaveRunner, probe: IPTablesBackendProbe?) async throws(DataplaneError) -> Dump? {
        var nft: Dump?
        var legacy: Dump?
        var nftError: DataplaneError?
        if probe?.nftHasKubeProxyChains ?? true {
            do { nft = try await dump(.nft, runner: runner) } catch { nftError = error }
        }
        let nftHasChains = nft?.hasKubeProxyChains ?? false
        if probe == nil || !nftHasChains || probe?.legacyMayHoldRules == true {
            do { legacy = try await dump(.legacy, runner: runner) } catch {
                if let nftError { throw nftError }
            }
        }
        let decision = await decide(
            nft: nftHasChains, legacy: legacy?.hasKubeProxyChains ?? false,
            nftHasHints: { if let probe { probe.nftHasHintChains } else { await nftHasHints(runner: runner) } },
            legacyHasHints: { legacy.map { $0.hasHintChains(in: [$0.ipv4, $0.ipv6]) } ?? false })
        guard var chosen = decision.backend == .nft ? nft : decision.backend == .legacy ? legacy : nil else { return nil }
        if decision.tie {
            chosen.warnings = nft!.warnings
            chosen.warnings.append("both iptables-nft and iptables-legacy hold kube-proxy chains; chose by kubelet's hint chains")
        }
        return chosen
    }

    /// Whether nf_tables mangle holds kubelet's hint chains (IPv4, then IPv6). Reading nft mangle is safe.
    static func nftHasHints(runner: IPTablesSaveRunner) async -> Bool {
        for tool in ["iptables-nft-save", "ip6tables-nft-save"] {
            if let text = try? await runner.save(tool, ["-t", "mangle"]),
                hintChains.contains(where: { IPTablesSave(parsing: text).containsChain($0) })
            {
                return true
            }
        }
        return false
    }

    /// Reads one backend: IPv4 must succeed; an IPv6 failure (IPv6 disabled, say) is a warning.
    static func dump(_ backend: Backend, runner: IPTablesSaveRunner) async throws(DataplaneError) -> Dump {
        let (v4Tool, v6Tool) = backend == .legacy
            ? ("iptables-legacy-save", "ip6tables-legacy-save") : ("iptables-nft-save", "ip6tables-nft-save")
        func read(_ tool: String) async throws(DataplaneError) -> IPTablesSave {
            if backend == .legacy { return IPTablesSave(parsing: try await runner.save(tool, [])) }
            let nat = try await runner.save(tool, ["-t", "nat"])
            let filter = try await runner.save(tool, ["-t", "filter"])
            return IPTablesSave(parsing: nat + "\n" + filter)
        }
        let ipv4 = try await read(v4Tool)
        var warnings: [String] = []
        var ipv6: IPTablesSave?
        do { ipv6 = try await read(v6Tool) } catch {
            if case .permissionDenied = error { throw error }
            warnings.append("\(v6Tool) could not be read, IPv6 rules not included: \(error)")
        }
        return Dump(backend: backend, ipv4: ipv4, ipv6: ipv6, warnings: warnings)
    }
}
#endif
