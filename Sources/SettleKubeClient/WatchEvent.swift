public import SettleKube

/// One decoded watch event.
///
/// Bookmarks carry only a resourceVersion (their object is not a full object, so it is not decoded
/// as `T`); errors carry the server's `Status`.
public enum WatchEvent<T: KubeObject>: Sendable, Hashable {
    case added(T)
    case modified(T)
    case deleted(T)
    case bookmark(resourceVersion: String)
    case error(KubeStatus)

    /// The resourceVersion to resume from after this event, if it has one.
    public var resourceVersion: String? {
        switch self {
        case .added(let object), .modified(let object), .deleted(let object): object.metadata.resourceVersion
        case .bookmark(let resourceVersion): resourceVersion
        case .error: nil
        }
    }
}
