import SettleDataplane
import SettleDataplaneLinux
import SettleModel

/// A reader chosen for `--mode`, with a note saying how `auto` decided.
struct SelectedReader: Sendable {
    var reader: any DataplaneReader
    var note: String?

    func read() async throws(DataplaneError) -> DataplaneSnapshot { try await reader.read() }
}

/// Picks the dataplane reader for a mode; `auto` looks for kube-proxy's rules.
enum DataplaneSelection {
    /// `names`: the Services' frontends, which name IPVS virtual servers (`settle check`); without
    /// them IPVS virtual servers are listed with `service: null`.
    static func reader(
        mode: ModeChoice, netns: String?, via: NFTablesReader.Path, names: IPVSServiceNames? = nil
    ) async throws(DataplaneError) -> SelectedReader {
        func ipvs() -> IPVSReader { names.map { IPVSReader(netns: netns, fixedNames: $0) } ?? IPVSReader(netns: netns) }
        switch mode {
        case .nftables:
            return SelectedReader(reader: NFTablesReader(netns: netns, path: via))
        case .iptables:
            return SelectedReader(reader: IPTablesReader(netns: netns))
        case .ipvs:
            return SelectedReader(reader: ipvs())
        case .auto:
            if try await NFTablesReader.probe(netns: netns) {
                return SelectedReader(reader: NFTablesReader(netns: netns, path: via), note: "mode auto: found kube-proxy's nftables tables")
            }
            // Before iptables: kube-proxy in IPVS mode keeps KUBE-SERVICES in iptables too (for its helper rules).
            if let probe = try? await IPVSReader.probe(netns: netns), probe.available, probe.looksLikeKubeProxy {
                let found = probe.hasInterface ? "\(IPVSReader.interfaceName) and \(probe.virtualServers) virtual servers" : "\(probe.virtualServers) virtual servers"
                return SelectedReader(reader: ipvs(), note: "mode auto: found kube-proxy's IPVS dataplane (\(found))")
            }
            if let backend = await IPTablesReader.detect(netns: netns) {
                return SelectedReader(
                    reader: IPTablesReader(netns: netns, backend: backend),
                    note: "mode auto: found kube-proxy's iptables chains (\(backend.rawValue) backend)")
            }
            return SelectedReader(
                reader: NFTablesReader(netns: netns, path: via),
                note: "mode auto: no kube-proxy rules found in nftables, IPVS or iptables "
                    + (netns.map { "in namespace \($0)" } ?? "on this host (is kube-proxy running here? --netns NAME reads another namespace)")
                    + "; showing nftables")
        }
    }
}
