public import SettleDataplane
import SettleDataplaneLinux
import SettleModel
public import Logging

/// Chooses how the agent follows the dataplane for a mode.
public enum FollowerSelection {
    /// The follower for `configuration.mode`, and a sentence saying how `auto` decided.
    public static func follower(
        for configuration: AgentConfiguration, logger: Logger = Logger(label: "settle.agent")
    ) async throws(DataplaneError) -> (any DataplaneFollower, note: String) {
        let netns = configuration.netns
        if let netns { try NetworkNamespace.validate(netns) }
        switch configuration.mode {
        case .nftables:
            return (nftables(configuration, logger: logger), "mode nftables")
        case .iptables:
            return (PollingFollower(reader: IPTablesReader(netns: netns), interval: configuration.pollInterval), "mode iptables (polled)")
        case .ipvs:
            return (IPVSFollower(netns: netns, interval: configuration.pollInterval), "mode ipvs (polled)")
        case .auto:
            if try await NFTablesReader.probe(netns: netns) {
                return (nftables(configuration, logger: logger), "mode auto: found kube-proxy's nftables tables")
            }
            // Before iptables: kube-proxy in IPVS mode keeps KUBE-SERVICES in iptables too (for its helper rules).
            if let probe = try? await IPVSReader.probe(netns: netns), probe.available, probe.looksLikeKubeProxy {
                return (
                    IPVSFollower(netns: netns, interval: configuration.pollInterval),
                    "mode auto: found kube-proxy's IPVS dataplane (\(probe.virtualServers) virtual servers\(probe.hasInterface ? ", \(IPVSReader.interfaceName)" : "")), polled"
                )
            }
            if let backend = await IPTablesReader.detect(netns: netns) {
                return (
                    PollingFollower(reader: IPTablesReader(netns: netns, backend: backend), interval: configuration.pollInterval),
                    "mode auto: found kube-proxy's iptables chains (\(backend.rawValue) backend), polled"
                )
            }
            return (nftables(configuration, logger: logger), "mode auto: no kube-proxy rules yet; following nftables, whose events will show them")
        }
    }

    static func nftables(_ configuration: AgentConfiguration, logger: Logger) -> any DataplaneFollower {
        NFTablesFollower(
            netns: configuration.netns, receiveBufferBytes: configuration.receiveBufferBytes,
            resyncInterval: configuration.resyncInterval, logger: logger)
    }
}
