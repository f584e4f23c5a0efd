/// The label selector kube-proxy lists and watches Services and EndpointSlices with:
/// `!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless`.
///
/// Mirrors KK `cmd/kube-proxy/app/server.go` (`noProxyName`, `noHeadlessEndpoints`). Objects that
/// do not match are invisible to kube-proxy, so they never take part in the selection.
public enum ProxyLabelSelector {
    /// Label naming an alternative service proxy; kube-proxy ignores Services and slices carrying it.
    public static let serviceProxyNameLabel = "service.kubernetes.io/service-proxy-name"
    /// Label the control plane puts on headless Services' slices.
    public static let headlessLabel = "service.kubernetes.io/headless"

    /// The selector as a query string value (`labelSelector=`), for list/watch clients.
    public static let selector = "!\(serviceProxyNameLabel),!\(headlessLabel)"

    /// Whether an object with `labels` is seen by kube-proxy. A label that exists with an empty
    /// value still excludes the object (`!key` tests existence).
    public static func matches(_ labels: [String: String]?) -> Bool {
        guard let labels else { return true }
        return labels[serviceProxyNameLabel] == nil && labels[headlessLabel] == nil
    }
}
