/// A `metav1.Status`: what the API server sends with errors, and inside `ERROR` watch events.
public struct KubeStatus: Codable, Hashable, Sendable {
    /// `Success` or `Failure`.
    public var status: String?
    /// Human-readable explanation from the server.
    public var message: String?
    /// e.g. `Expired`, `Gone`, `NotFound`.
    public var reason: String?
    /// The HTTP status code it stands for; 410 means the resourceVersion expired.
    public var code: Int?

    /// A status, e.g. for tests or synthesized errors.
    public init(status: String? = nil, message: String? = nil, reason: String? = nil, code: Int? = nil) {
        self.status = status
        self.message = message
        self.reason = reason
        self.code = code
    }

    /// Whether this says "your resourceVersion is too old: list again".
    public var isGone: Bool { code == 410 || reason == "Expired" || reason == "Gone" }
}
