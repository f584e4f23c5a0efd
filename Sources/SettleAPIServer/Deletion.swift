/// One DELETE the stand-in performed, for tests that check what a client asked for.
public struct Deletion: Hashable, Sendable {
    /// Plural resource name, e.g. `pods`.
    public var resource: String
    public var namespace: String?
    public var name: String
    /// `gracePeriodSeconds` of the request's `DeleteOptions`; nil when it sent none (the object's own applies).
    public var gracePeriodSeconds: Int?

    public init(resource: String, namespace: String?, name: String, gracePeriodSeconds: Int?) {
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.gracePeriodSeconds = gracePeriodSeconds
    }
}
