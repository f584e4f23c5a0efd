import SettleKube

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
