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

/// Decodes one watch line `{"type":…,"object":…}` in a single pass, choosing the object's type by `type`.
struct WatchEventEnvelope<T: KubeObject>: Decodable {
    let event: WatchEvent<T>

    private enum CodingKeys: String, CodingKey { case type, object }

    private struct BookmarkObject: Decodable {
        struct Metadata: Decodable { var resourceVersion: String? }
        var metadata: Metadata?
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "ADDED": event = .added(try container.decode(T.self, forKey: .object))
        case "MODIFIED": event = .modified(try container.decode(T.self, forKey: .object))
        case "DELETED": event = .deleted(try container.decode(T.self, forKey: .object))
        case "BOOKMARK":
            let object = try container.decode(BookmarkObject.self, forKey: .object)
            guard let resourceVersion = object.metadata?.resourceVersion else {
                throw DecodingError.dataCorruptedError(forKey: .object, in: container, debugDescription: "BOOKMARK without resourceVersion")
            }
            event = .bookmark(resourceVersion: resourceVersion)
        case "ERROR": event = .error(try container.decode(KubeStatus.self, forKey: .object))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: container, debugDescription: "unknown watch event type \(type)")
        }
    }
}
