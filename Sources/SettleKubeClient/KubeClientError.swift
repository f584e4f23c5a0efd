/// Everything the list/watch client can fail with; each case is one sentence an operator can act on.
public enum KubeClientError: Error, Sendable, CustomStringConvertible {
    /// The resourceVersion (or continue token) left the server's window: relist.
    case gone(KubeStatus?)
    /// A non-success HTTP status other than 410.
    case httpStatus(code: Int, status: KubeStatus?)
    /// The watch stream sent an `ERROR` event that is not a 410.
    case watchError(KubeStatus)
    /// The stream ended in the middle of a line (a connection dropped mid-event).
    case truncatedStream(bytes: Int)
    /// A response body was not the JSON expected.
    case decoding(String)
    /// Configuration could not be loaded or used (kubeconfig, in-cluster files, TLS material).
    case invalidConfiguration(String)

    /// One sentence for logs and test failures.
    public var description: String {
        switch self {
        case .gone(let status):
            "resourceVersion expired (410 Gone\(status?.message.map { ": \($0)" } ?? "")); a relist is needed"
        case .httpStatus(let code, let status):
            "API server answered HTTP \(code)\(status?.message.map { ": \($0)" } ?? "")"
        case .watchError(let status):
            "watch ERROR event \(status.code.map(String.init) ?? "?") \(status.reason ?? ""): \(status.message ?? "")"
        case .truncatedStream(let bytes):
            "watch stream ended inside an event (\(bytes) bytes of an unfinished line discarded)"
        case .decoding(let message):
            "could not decode API response: \(message)"
        case .invalidConfiguration(let message):
            "invalid Kubernetes client configuration: \(message)"
        }
    }
}
