import Foundation
// The stand-in API server's JSON value: integers stay integers, so a schema's `integer` can be checked.
import SettleAPIServer
import SettleAcks
import SettleAggregation
import SettleConvergence
import Testing
import Yams

/// Keeps docs/openapi.yaml honest: real answer values, encoded as the aggregator encodes them
/// (`AckWire.encoder`), must fit their schemas — every key declared, every required key present,
/// types and enums right, nested objects too — and every property a schema declares must appear
/// in at least one of the values (so the document cannot describe fields the code does not have).
@Suite("OpenAPI conformance (docs/openapi.yaml)")
struct OpenAPIConformanceTests {
    // MARK: - Values: every optional set, and every optional unset

    static let t0 = Date(timeIntervalSince1970: 1_795_791_831.416)

    static var fullWait: WaitAnswer {
        WaitAnswer(
            query: WaitQuery(ip: "10.244.2.9"), for: .drained, done: false, timedOut: true,
            summary: "waiting for 1 of 3 nodes: node-c behind; 1 unknown (blocking): node-e silent; 1 excluded",
            endpoint: EndpointView(
                ips: ["10.244.2.9"], services: ["shop/web"], state: "terminating",
                change: EndpointChange(
                    slice: "web-abcde", uid: "0b9d6c1e-5f3a-4d8e-9a41-2c7e8b1d4f60", generation: 8, resourceVersion: "1288400",
                    observedAt: t0)),
            nodes: NodeCounts(total: 5, counted: 4, done: 2, pending: 1, unknown: 1, excluded: 1),
            pending: [
                NodeVerdict(node: "node-b", state: "programmed", fallback: true, reason: .fallback, detail: "kept as the last serving endpoint"),
                NodeVerdict(node: "node-c", reason: .behind, detail: "its EndpointSlice watch is at 1288311"),
            ],
            unknown: [NodeVerdict(node: "node-e", reason: .silent, detail: "its agent has been silent since 2026-11-27T21:03:51.416Z")],
            excluded: [NodeVerdict(node: "node-d", reason: .noAgent, detail: "no agent runs on this Node")],
            policy: WaitPolicy(unknownNodes: .block), elapsedSeconds: 3.915, sinceChangeSeconds: 3.4)
    }

    static var minimalWait: WaitAnswer {
        WaitAnswer(
            query: WaitQuery(pod: "shop/web-7d9f-fghij"), for: .programmed, done: false, timedOut: false, summary: "no node counts",
            endpoint: EndpointView(ips: [], services: [], state: "removed", change: nil),
            nodes: NodeCounts(total: 0, counted: 0, done: 0, pending: 0, unknown: 0, excluded: 0), pending: [], unknown: [],
            excluded: [], policy: WaitPolicy(unknownNodes: .ignore), elapsedSeconds: 0, sinceChangeSeconds: nil)
    }

    static var changeWithoutVersions: WaitAnswer {
        var answer = minimalWait
        answer.endpoint.change = EndpointChange(slice: "web-abcde", uid: "shop/web-abcde", generation: nil, resourceVersion: nil, observedAt: t0)
        answer.done = true
        return answer
    }

    static var fullNodes: NodesAnswer {
        NodesAnswer(
            nodes: [
                NodeHealth(
                    node: "node-a", status: "unknown", reason: .disconnected, detail: "no stream from its agent: connection refused",
                    agent: "http://10.0.0.1:9467", connected: true, ready: true, mode: "nftables", epoch: "3f9c0a7d12e4b685", seq: 42,
                    watch: "1288400", lastMessage: t0, silentSeconds: 0.75, inTransition: 3, notConverged: 1, divergent: 1,
                    lagSeconds: 2.5, nodeReady: true, nodeDeleting: false, connects: 2, malformed: 1),
                NodeHealth(node: "node-d", status: "excluded"),
            ],
            counts: .init(total: 2, healthy: 0, unknown: 1, excluded: 1), policy: WaitPolicy(unknownNodes: .block), watch: "1288400")
    }

    static var minimalNodes: NodesAnswer {
        NodesAnswer(nodes: [], counts: .init(total: 0, healthy: 0, unknown: 0, excluded: 0), policy: WaitPolicy(unknownNodes: .ignore), watch: nil)
    }

    static var fullService: ServiceAnswer {
        ServiceAnswer(
            service: "shop/web", converged: false, summary: "not converged on 1 of 2 nodes; 1 unknown",
            nodes: [
                ServiceNode(
                    node: "node-a", status: "pending", reason: nil, states: ["stale": 1, "drained": 2],
                    notConverged: ["shop/web:http/TCP 10.244.2.9:8080 stale (terminating)"], lagSeconds: 0.36),
                ServiceNode(node: "node-c", status: "unknown", reason: .agentNotReady),
                ServiceNode(node: "node-d", status: "converged"),
            ],
            counts: NodeCounts(total: 3, counted: 3, done: 1, pending: 1, unknown: 1, excluded: 0),
            policy: WaitPolicy(unknownNodes: .block))
    }

    // MARK: - Tests

    @Test func answersFitTheirSchemas() throws {
        let spec = try OpenAPISpec.load()
        var checker = SchemaChecker(spec: spec)
        try checker.check(Self.fullWait, against: "WaitAnswer")
        try checker.check(Self.minimalWait, against: "WaitAnswer")
        try checker.check(Self.changeWithoutVersions, against: "WaitAnswer")
        try checker.check(Self.fullNodes, against: "NodesAnswer")
        try checker.check(Self.minimalNodes, against: "NodesAnswer")
        try checker.check(Self.fullService, against: "ServiceAnswer")
        try checker.check(APIError(error: "not an IP address: \"x\"", status: 400), against: "APIError")
        #expect(checker.problems == [], "answers that do not fit docs/openapi.yaml")

        // Every property each schema declares was seen in some value: no invented fields.
        for name in ["WaitAnswer", "WaitQuery", "EndpointView", "EndpointChange", "NodeCounts", "NodeVerdict", "WaitPolicy",
                     "NodesAnswer", "NodeHealthCounts", "NodeHealth", "ServiceAnswer", "ServiceNode", "APIError"] {
            let declared = Set(try spec.schema(name).properties.keys)
            let seen = checker.seenKeys[name] ?? []
            #expect(declared == seen, "\(name): declared but never encoded \(declared.subtracting(seen).sorted()); encoded but undeclared \(seen.subtracting(declared).sorted())")
        }
    }

    @Test func unsetOptionalsAreOmittedNotNull() throws {
        let json = String(decoding: try AckWire.encoder.encode(Self.minimalWait), as: UTF8.self)
        #expect(!json.contains("null"), "nil optionals are left out, as docs/openapi.yaml says: \(json)")
        #expect(!json.contains("sinceChangeSeconds"))
        #expect(!json.contains("\"change\""))
    }

    @Test func reasonEnumMatchesTheCode() throws {
        let spec = try OpenAPISpec.load()
        let declared = try spec.schema("NodeVerdictReason").enumValues
        let code = NodeVerdict.Reason.allCases.map(\.rawValue)
        #expect(Set(declared) == Set(code), "in the document only: \(Set(declared).subtracting(code).sorted()); in the code only: \(Set(code).subtracting(declared).sorted())")
        #expect(declared.count == Set(declared).count, "duplicates in NodeVerdictReason")
        // NodeVerdict.reason, NodeHealth.reason and ServiceNode.reason all use it.
        for owner in ["NodeVerdict", "NodeHealth", "ServiceNode"] {
            #expect(try spec.schema(owner).properties["reason"]?["$ref"] as? String == "#/components/schemas/NodeVerdictReason", "\(owner).reason")
        }
    }

    @Test func otherEnumsMatchTheCode() throws {
        let spec = try OpenAPISpec.load()
        #expect(Set(try spec.schema("WaitTarget").enumValues) == Set(WaitTarget.allCases.map(\.rawValue)))
        #expect(Set(try spec.schema("UnknownNodePolicy").enumValues) == Set(UnknownNodePolicy.allCases.map(\.rawValue)))
        #expect(Set(try spec.schema("EndpointState").enumValues) == Set(EndpointState.allCases.map(\.rawValue)))
    }

    @Test func pathsAreTheServedOnes() throws {
        let spec = try OpenAPISpec.load()
        let paths = try #require(spec.root["paths"] as? [String: Any])
        #expect(Set(paths.keys) == [
            "/v1/endpoints/{ip}", "/v1/pods/{namespace}/{name}", "/v1/services/{namespace}/{name}", "/v1/nodes",
            "/healthz", "/readyz", "/metrics",
        ])
        for (path, item) in paths {
            let methods = Set((item as? [String: Any] ?? [:]).keys).subtracting(["parameters", "summary", "description"])
            #expect(methods == ["get"], "\(path): the API is GET only")
        }
    }
}

// MARK: - The document

struct OpenAPISpec {
    let root: [String: Any]

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// docs/openapi.yaml, found from this file's path (Tests/SettleAggregationTests/ → ../../docs).
    static func load(filePath: String = #filePath) throws -> OpenAPISpec {
        let url = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/openapi.yaml")
        let text = try String(contentsOf: url, encoding: .utf8)
        guard let root = try Yams.load(yaml: text) as? [String: Any] else { throw Failure(description: "\(url.path) is not a mapping") }
        return OpenAPISpec(root: root)
    }

    struct Schema {
        let name: String?
        let body: [String: Any]
        var properties: [String: [String: Any]] { (body["properties"] as? [String: Any] ?? [:]).compactMapValues { $0 as? [String: Any] } }
        var required: [String] { body["required"] as? [String] ?? [] }
        var type: String? { body["type"] as? String }
        var enumValues: [String] { (body["enum"] as? [Any] ?? []).compactMap { $0 as? String } }
    }

    func schema(_ name: String) throws -> Schema {
        let schemas = (root["components"] as? [String: Any])?["schemas"] as? [String: Any]
        guard let body = schemas?[name] as? [String: Any] else { throw Failure(description: "no schema \(name) in docs/openapi.yaml") }
        return Schema(name: name, body: body)
    }

    /// Follows a `$ref` (local schemas only).
    func resolve(_ body: [String: Any]) throws -> Schema {
        guard let ref = body["$ref"] as? String else { return Schema(name: nil, body: body) }
        let prefix = "#/components/schemas/"
        guard ref.hasPrefix(prefix) else { throw Failure(description: "unsupported $ref \(ref)") }
        return try schema(String(ref.dropFirst(prefix.count)))
    }
}

// MARK: - JSON as written

// MARK: - Checking

struct SchemaChecker {
    let spec: OpenAPISpec
    private(set) var problems: [String] = []
    /// Keys seen in objects checked against each named schema.
    private(set) var seenKeys: [String: Set<String>] = [:]

    init(spec: OpenAPISpec) {
        self.spec = spec
    }

    mutating func check(_ value: some Encodable, against name: String) throws {
        let data = try AckWire.encoder.encode(value)
        let json = try JSONDecoder().decode(JSONValue.self, from: data)
        try check(json, try spec.schema(name), at: name)
    }

    private mutating func check(_ value: JSONValue, _ schema: OpenAPISpec.Schema, at path: String) throws {
        if !schema.enumValues.isEmpty {
            if case .string(let text) = value, schema.enumValues.contains(text) {} else {
                problems.append("\(path): \(value) is not one of \(schema.enumValues)")
            }
        }
        switch (schema.type, value) {
        case (nil, _):
            break
        case ("boolean", .bool), ("integer", .int), ("number", .int), ("number", .double):
            if let minimum = schema.body["minimum"] as? Int {
                let number: Double = if case .int(let n) = value { Double(n) } else if case .double(let n) = value { n } else { 0 }
                if number < Double(minimum) { problems.append("\(path): \(number) < minimum \(minimum)") }
            }
        case ("string", .string(let text)):
            if schema.body["format"] as? String == "date-time" {
                if AckWire.parseTime(text) == nil || !text.hasSuffix("Z") { problems.append("\(path): \(text) is not an RFC 3339 UTC time") }
                if text.split(separator: ".").last?.count != 4 { problems.append("\(path): \(text) lacks milliseconds") }
            }
            if let pattern = schema.body["pattern"] as? String, text.range(of: pattern, options: .regularExpression) == nil {
                problems.append("\(path): \(text) does not match \(pattern)")
            }
        case ("array", .array(let items)):
            let itemSchema = try spec.resolve(schema.body["items"] as? [String: Any] ?? [:])
            for (index, item) in items.enumerated() { try check(item, itemSchema, at: "\(path)[\(index)]") }
        case ("object", .object(let members)):
            let properties = schema.properties
            if let name = schema.name { seenKeys[name, default: []].formUnion(members.keys) }
            for key in schema.required where members[key] == nil {
                problems.append("\(path): required key \(key) missing")
            }
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                if let property = properties[key] {
                    try check(member, try spec.resolve(property), at: "\(path).\(key)")
                } else if let additional = schema.body["additionalProperties"] as? [String: Any] {
                    if let names = schema.body["propertyNames"] as? [String: Any] {
                        try check(.string(key), try spec.resolve(names), at: "\(path) key \(key)")
                    }
                    try check(member, try spec.resolve(additional), at: "\(path).\(key)")
                } else {
                    problems.append("\(path): key \(key) is not declared in the schema")
                }
            }
        default:
            problems.append("\(path): \(value) is not of type \(schema.type ?? "?")")
        }
    }
}
