/// Why Kubernetes objects could not be loaded from a file or directory.
///
/// `description` is one line an operator can act on: `path:line: problem`.
public enum KubeLoadError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The path does not exist or cannot be read.
    case unreadable(path: String, reason: String)
    /// The content is not valid YAML/JSON, or an object has a field of the wrong type.
    /// `line` is 1-based; `nil` when the position is unknown.
    case unparseable(path: String, line: Int?, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            return "\(path): cannot read: \(reason)"
        case .unparseable(let path, let line, let reason):
            if let line { return "\(path):\(line): \(reason)" }
            return "\(path): \(reason)"
        }
    }
}
