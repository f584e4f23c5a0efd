/// Which objects of a kind a list or watch asks for: one namespace or all, and label/field selectors.
public struct ResourceSelection: Hashable, Sendable {
    /// nil lists across all namespaces (and is the only choice for cluster-scoped kinds).
    public var namespace: String?
    /// e.g. kube-proxy's ``kubeProxyLabelSelector``.
    public var labelSelector: String?
    /// e.g. `metadata.name=node-a` to watch one Node.
    public var fieldSelector: String?

    /// Everything by default.
    public init(namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil) {
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
    }

    /// The selector kube-proxy uses for Services and EndpointSlices; Settle must see exactly what it sees.
    public static let kubeProxyLabelSelector = "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless"

    /// What kube-proxy watches for Services and EndpointSlices.
    public static let kubeProxy = ResourceSelection(labelSelector: kubeProxyLabelSelector)

    /// One object by name (cluster-scoped kinds such as Node).
    public static func named(_ name: String) -> ResourceSelection {
        ResourceSelection(fieldSelector: "metadata.name=\(name)")
    }
}
