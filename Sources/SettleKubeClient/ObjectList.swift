public import SettleKube

/// A LIST answer: the items and the resourceVersion of the snapshot they belong to.
public struct ObjectList<T: KubeObject>: Decodable, Sendable {
    /// Watch from this RV to see every change after the snapshot.
    public var resourceVersion: String
    /// Present when more pages follow (`limit` was given).
    public var continueToken: String?
    /// The objects of this page (or of the whole list).
    public var items: [T]

    /// A list assembled by the caller, e.g. from several pages.
    public init(resourceVersion: String, continueToken: String? = nil, items: [T]) {
        self.resourceVersion = resourceVersion
        self.continueToken = continueToken
        self.items = items
    }

    private enum CodingKeys: String, CodingKey { case metadata, items }
    private struct ListMeta: Decodable {
        var resourceVersion: String?
        var `continue`: String?
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let metadata = try container.decodeIfPresent(ListMeta.self, forKey: .metadata)
        resourceVersion = metadata?.resourceVersion ?? ""
        continueToken = metadata?.continue.flatMap { $0.isEmpty ? nil : $0 }
        items = try container.decodeIfPresent([T].self, forKey: .items) ?? []
    }
}
