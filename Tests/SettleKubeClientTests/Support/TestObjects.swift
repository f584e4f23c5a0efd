import SettleKube

/// A namespaced test-only kind, so client and server tests do not depend on the real typed objects.
struct Widget: KubeObject {
    static let apiVersion = "test.settle.dev/v1"
    static let kind = "Widget"
    static let resource = "widgets"
    static let namespaced = true

    var metadata: ObjectMeta
    var spec: [String: String]?

    init(_ namespace: String, _ name: String, labels: [String: String]? = nil, spec: [String: String]? = nil) {
        metadata = ObjectMeta(name: name, namespace: namespace, labels: labels)
        self.spec = spec
    }
}

/// A cluster-scoped test-only kind, for field selectors such as `metadata.name=`.
struct Gadget: KubeObject {
    static let apiVersion = "v1"
    static let kind = "Gadget"
    static let resource = "gadgets"
    static let namespaced = false

    var metadata: ObjectMeta
    var zone: String?

    init(_ name: String, zone: String? = nil) {
        metadata = ObjectMeta(name: name)
        self.zone = zone
    }
}
