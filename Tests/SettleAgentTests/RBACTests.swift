import Foundation
import SettleAPIServer
import SettleAgent
import SettleConvergence
import SettleTestSupport
import Testing
import Yams

/// Pins the agent's RBAC (daemonset/agent-rbac.yaml) to the requests the agent really makes: a real
/// agent runs against the stand-in API server through start-up and a preStop flow, and the
/// (verb, apiGroup, resource) triples it used must be exactly those its ClusterRole grants — nothing
/// missing (the agent would get 403 in a cluster), nothing extra (least privilege, brief §5).
@Suite(.enabled(if: ScratchNamespace.isRoot, "needs root for network namespaces"), .serialized)
struct RBACTests {
    typealias E = WebCluster.Endpoint

    @Test("the agent's ClusterRole grants exactly the verbs and resources the agent uses")
    func agentClusterRoleMatchesRequests() async throws {
        var recorded: [RecordedRequest] = []
        // As deployed: the ack stream needs a reviewed token (daemonset/agent-daemonset.yaml, --stream-auth=tokenreview).
        try await AgentHarness.with([E(ip: "10.1.0.1"), E(ip: "10.1.0.2")], configure: { $0.streamAuthentication = .init() }) { h in
            await h.server.state.setTokenIdentities(
                ["aggregator-token": TokenIdentity(username: StreamAuthenticator.defaultUser, audiences: [StreamAuthenticator.defaultAudience])])
            let acks = AckStreamClient()
            await acks.start(url: "http://127.0.0.1:\(h.httpPort)/v1/acks", client: h.http, token: "aggregator-token")
            // The preStop flow, so that whatever the agent does on a change is recorded too.
            try await h.setSlice([E(ip: "10.1.0.1"), E(ip: "10.1.0.2", ready: false, serving: false, terminating: true)])
            try h.program(["10.1.0.1"])
            _ = try await acks.wait(for: WebCluster.key("10.1.0.2")) { $0.state == .drained }
            await acks.stop()
            recorded = await h.server.state.recordedRequests
        }

        var used = Set<RBACRules.Grant>()
        var unclassified: [String] = []
        for request in recorded {
            switch RBACRules.classify(request) {
            case .resource(let grant): used.insert(grant)
            case .discovery: break  // granted to every authenticated user (system:discovery)
            case .unknown: unclassified.append("\(request.method) \(request.path)")
            }
        }
        #expect(unclassified.isEmpty, "requests the test cannot map to RBAC: \(unclassified)")
        #expect(!used.isEmpty, "the agent made no API requests at all")

        let granted = try RBACRules.clusterRole(named: "settle-agent", in: RBACRules.repositoryFile("daemonset/agent-rbac.yaml"))
        let missing = used.subtracting(granted).sorted()
        let extra = granted.subtracting(used).sorted()
        #expect(missing.isEmpty, "the agent uses what its ClusterRole does not grant: \(missing)")
        #expect(extra.isEmpty, "the ClusterRole grants what the agent never uses: \(extra)")
    }

    @Test("request classification: list, watch, get, namespaced and grouped paths, discovery")
    func classification() {
        func grant(_ method: String, _ path: String, watch: Bool = false) -> RBACRules.Classification {
            RBACRules.classify(method: method, path: path, isWatch: watch)
        }
        #expect(grant("GET", "/api/v1/services") == .resource(.init(verb: "list", group: "", resource: "services")))
        #expect(grant("GET", "/api/v1/services", watch: true) == .resource(.init(verb: "watch", group: "", resource: "services")))
        #expect(grant("GET", "/api/v1/nodes/node-a") == .resource(.init(verb: "get", group: "", resource: "nodes")))
        #expect(grant("GET", "/api/v1/watch/nodes") == .resource(.init(verb: "watch", group: "", resource: "nodes")))
        #expect(
            grant("GET", "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices")
                == .resource(.init(verb: "list", group: "discovery.k8s.io", resource: "endpointslices")))
        #expect(grant("GET", "/api/v1/namespaces/shop") == .resource(.init(verb: "get", group: "", resource: "namespaces")))
        #expect(grant("GET", "/api/v1/namespaces/shop/pods/p/log") == .resource(.init(verb: "get", group: "", resource: "pods/log")))
        #expect(grant("PUT", "/api/v1/nodes/node-a") == .resource(.init(verb: "update", group: "", resource: "nodes")))
        #expect(grant("DELETE", "/api/v1/namespaces/shop/pods") == .resource(.init(verb: "deletecollection", group: "", resource: "pods")))
        #expect(grant("GET", "/version") == .discovery)
        #expect(grant("GET", "/apis/discovery.k8s.io/v1") == .discovery)
        #expect(grant("GET", "/metrics") == .unknown)
    }
}

/// Kubernetes RBAC as far as the pin tests need it: which (verb, apiGroup, resource) a request
/// needs, and which ones a ClusterRole grants. Written for reuse by an aggregator twin of this test.
enum RBACRules {
    struct Grant: Hashable, Comparable, CustomStringConvertible {
        var verb: String
        /// `""` for the core group.
        var group: String
        /// Plural resource, `resource/subresource` for subresources.
        var resource: String

        static func < (a: Grant, b: Grant) -> Bool {
            (a.group, a.resource, a.verb) < (b.group, b.resource, b.verb)
        }
        var description: String { "\(verb) \(group.isEmpty ? "core" : group)/\(resource)" }
    }

    enum Classification: Equatable {
        case resource(Grant)
        /// `/version`, `/api`, `/api/v1`, `/apis`, `/apis/G`, `/apis/G/V`: readable by every
        /// authenticated user through the default `system:discovery` role.
        case discovery
        case unknown
    }

    /// The RBAC request attributes of one request, as the API server's request-info resolver computes them.
    static func classify(_ request: RecordedRequest) -> Classification {
        classify(method: request.method, path: request.path, isWatch: request.isWatch)
    }

    /// `isWatch`: the query asked for a watch (`watch=true`); the legacy `/watch/` prefix is read from `path`.
    static func classify(method: String, path: String, isWatch: Bool) -> Classification {
        let parts = path.split(separator: "/").map(String.init)
        var rest: [String]
        let group: String
        switch parts.first {
        case "version" where parts.count == 1: return .discovery
        case "api":
            if parts.count <= 2 { return .discovery }
            group = ""
            rest = Array(parts.dropFirst(2))
        case "apis":
            if parts.count <= 3 { return .discovery }
            group = parts[1]
            rest = Array(parts.dropFirst(3))
        default: return .unknown
        }
        var legacyWatch = false
        if rest.first == "watch" {
            legacyWatch = true
            rest.removeFirst()
        }
        // `namespaces/NS/RESOURCE…`; `namespaces` and `namespaces/NAME` address Namespace objects.
        if rest.count >= 3, rest[0] == "namespaces" { rest.removeFirst(2) }
        guard (1...3).contains(rest.count) else { return .unknown }
        let resource = rest.count == 3 ? "\(rest[0])/\(rest[2])" : rest[0]
        let named = rest.count >= 2
        let verb: String
        switch method.uppercased() {
        case "GET", "HEAD": verb = (legacyWatch || isWatch) ? "watch" : (named ? "get" : "list")
        case "POST": verb = "create"
        case "PUT": verb = "update"
        case "PATCH": verb = "patch"
        case "DELETE": verb = named ? "delete" : "deletecollection"
        default: return .unknown
        }
        return .resource(Grant(verb: verb, group: group, resource: resource))
    }

    /// Every (verb, apiGroup, resource) the ClusterRole `name` grants, from a multi-document YAML
    /// file. Wildcards, `resourceNames` and `nonResourceURLs` are rejected: a pinned role lists what it grants.
    static func clusterRole(named name: String, in url: URL) throws -> Set<Grant> {
        try role(kind: "ClusterRole", named: name, in: url)
    }

    /// The same for a `Role` (namespaced) or a `ClusterRole`.
    static func role(kind: String, named name: String, in url: URL) throws -> Set<Grant> {
        let text = try String(contentsOf: url, encoding: .utf8)
        var found: Set<Grant>?
        for case let document as [String: Any] in try Yams.load_all(yaml: text) {
            let metadata = document["metadata"] as? [String: Any]
            guard document["kind"] as? String == kind, metadata?["name"] as? String == name else { continue }
            var grants = Set<Grant>()
            for case let rule as [String: Any] in document["rules"] as? [Any] ?? [] {
                guard rule["resourceNames"] == nil, rule["nonResourceURLs"] == nil else {
                    throw RBACError("ClusterRole \(name): resourceNames/nonResourceURLs are not expected: \(rule)")
                }
                let groups = rule["apiGroups"] as? [String] ?? []
                let resources = rule["resources"] as? [String] ?? []
                let verbs = rule["verbs"] as? [String] ?? []
                guard !(groups + resources + verbs).contains("*") else { throw RBACError("ClusterRole \(name): wildcard in \(rule)") }
                for group in groups { for resource in resources { for verb in verbs { grants.insert(Grant(verb: verb, group: group, resource: resource)) } } }
            }
            found = grants
        }
        guard let found else { throw RBACError("no \(kind) \(name) in \(url.path)") }
        return found
    }

    /// A file of this repository, found from this source file's location.
    static func repositoryFile(_ relativePath: String, from source: String = #filePath) -> URL {
        URL(fileURLWithPath: source).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(relativePath)
    }

    struct RBACError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
