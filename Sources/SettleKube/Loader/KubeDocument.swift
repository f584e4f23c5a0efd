/// One decoded YAML/JSON document: a Service, EndpointSlice, Node, a list of documents, or
/// something Settle does not read.
///
/// Decoding looks at `apiVersion` and `kind` first and only then decodes the object, so any
/// `kind: List` (or `ServiceList`, `EndpointSliceList` …) may mix kinds in its `items`.
enum KubeDocument: Decodable {
    case service(V1Service)
    case endpointSlice(V1EndpointSlice)
    case node(V1Node)
    case list([KubeDocument])
    case other(kind: String)

    enum CodingKeys: String, CodingKey { case apiVersion, kind, items }

    init(from decoder: any Decoder) throws {
        try self.init(from: decoder, defaultAPIVersion: "", defaultKind: "")
    }

    /// Decodes one object; `apiVersion` and `kind` default to the given values (the items of a typed
    /// list such as an API server's `EndpointSliceList` leave them out).
    init(from decoder: any Decoder, defaultAPIVersion: String, defaultKind: String) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let apiVersion = try container.decodeIfPresent(String.self, forKey: .apiVersion) ?? defaultAPIVersion
        let kind = try container.decodeIfPresent(String.self, forKey: .kind) ?? defaultKind
        switch (apiVersion, kind) {
        case (V1Service.apiVersion, V1Service.kind):
            self = .service(try V1Service(from: decoder))
        case (V1EndpointSlice.apiVersion, V1EndpointSlice.kind):
            self = .endpointSlice(try V1EndpointSlice(from: decoder))
        case (V1Node.apiVersion, V1Node.kind):
            self = .node(try V1Node(from: decoder))
        case (_, let kind) where kind.hasSuffix("List") && container.contains(.items):
            // `List` items name their own kinds; `ServiceList` items may not.
            let itemKind = kind == "List" ? "" : String(kind.dropLast("List".count))
            let itemAPIVersion = kind == "List" ? "" : apiVersion
            var items: [KubeDocument] = []
            if try container.decodeNil(forKey: .items) == false {
                var array = try container.nestedUnkeyedContainer(forKey: .items)
                while !array.isAtEnd {
                    items.append(
                        try KubeDocument(
                            from: try array.superDecoder(), defaultAPIVersion: itemAPIVersion, defaultKind: itemKind))
                }
            }
            self = .list(items)
        case (_, ""):
            self = .other(kind: "(no kind)")
        case (let apiVersion, let kind) where [V1Service.kind, V1EndpointSlice.kind, V1Node.kind].contains(kind):
            self = .other(kind: "\(kind) (\(apiVersion))")
        default:
            self = .other(kind: kind)
        }
    }

    /// Adds this document's objects to `objects`.
    func collect(into objects: inout KubeObjects) {
        switch self {
        case .service(let service): objects.services.append(service)
        case .endpointSlice(let slice): objects.endpointSlices.append(slice)
        case .node(let node): objects.nodes.append(node)
        case .list(let items): for item in items { item.collect(into: &objects) }
        case .other(let kind): objects.ignored[kind, default: 0] += 1
        }
    }
}
