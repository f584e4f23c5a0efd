public import SettleModel

/// The service comments kube-proxy's iptables proxier writes, read back.
///
/// Mirrors the `fmt.Sprintf` calls in KK `pkg/proxy/iptables/proxier.go` (syncProxyRules):
/// `"%s cluster IP"`, `"%s external IP"`, `"%s loadbalancer IP"` in nat `KUBE-SERVICES`; the bare
/// service port name in nat `KUBE-NODEPORTS`; `"%s has no endpoints"` and `"%s has no local endpoints"`
/// in the filter table. `%s` is `ServicePortName.String()`: `ns/name:port`, or `ns/name` when unnamed.
/// These comments stay even in large-cluster mode, which only drops the per-endpoint ones.
public enum IPTablesServiceComment: Hashable, Sendable {
    /// A frontend entry in nat `KUBE-SERVICES`.
    case frontend(ServicePortName, Frontend.Kind)
    /// A filter-table rule for a service port without (local) endpoints.
    case noEndpoints(ServicePortName, localOnly: Bool)
    /// A bare `ns/name:port` (nat `KUBE-NODEPORTS`, `KUBE-SEP-…` chains).
    case servicePort(ServicePortName)

    private static let frontendSuffixes: [(String, Frontend.Kind)] = [
        (" cluster IP", .clusterIP), (" external IP", .externalIP), (" loadbalancer IP", .loadBalancer),
    ]

    /// Reads one comment; `nil` when it is none of kube-proxy's service comments.
    public init?(_ comment: String) {
        for (suffix, kind) in Self.frontendSuffixes where comment.hasSuffix(suffix) {
            guard let name = ServicePortName(parsing: comment.dropLast(suffix.count)), !name.port.contains(" ")
            else { return nil }
            self = .frontend(name, kind)
            return
        }
        for (suffix, local) in [(" has no local endpoints", true), (" has no endpoints", false)]
        where comment.hasSuffix(suffix) {
            guard let name = ServicePortName(parsing: comment.dropLast(suffix.count)), !name.port.contains(" ")
            else { return nil }
            self = .noEndpoints(name, localOnly: local)
            return
        }
        guard !comment.contains(" "), let name = ServicePortName(parsing: comment) else { return nil }
        self = .servicePort(name)
    }
}
