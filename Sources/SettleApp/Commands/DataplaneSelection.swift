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
    static func reader(mode: ModeChoice, netns: String?, via: NFTablesReader.Path) async throws(DataplaneError) -> SelectedReader {
        switch mode {
        case .nftables:
            return SelectedReader(reader: NFTablesReader(netns: netns, path: via))
        case .iptables:
            return SelectedReader(reader: IPTablesReader(netns: netns))
        case .auto:
            if try await NFTablesReader.probe(netns: netns) {
                return SelectedReader(reader: NFTablesReader(netns: netns, path: via), note: "mode auto: found kube-proxy's nftables tables")
            }
            if let backend = await IPTablesReader.detect(netns: netns) {
                return SelectedReader(
                    reader: IPTablesReader(netns: netns, backend: backend),
                    note: "mode auto: found kube-proxy's iptables chains (\(backend.rawValue) backend)")
            }
            return SelectedReader(
                reader: NFTablesReader(netns: netns, path: via),
                note: "mode auto: no kube-proxy rules found in nftables or iptables "
                    + (netns.map { "in namespace \($0)" } ?? "on this host (is kube-proxy running here? --netns NAME reads another namespace)")
                    + "; showing nftables")
        }
    }
}
