import Foundation
import SettleAPIServer
import Testing

/// Pins the operator Role documented for `settle drain` (docs/tools.md, the YAML block after the
/// `settle-drain-role` marker) to the requests the command really makes: a drain, a drain of a pod
/// no Service selects, a dry run, and an undo run against the stand-in API server, and the
/// (verb, apiGroup, resource) triples they used in the pods' namespace must be exactly those the
/// Role grants — nothing missing (403 in a cluster), nothing extra (least privilege).
@Suite(.serialized)
struct DrainRBACTests {
    struct Grant: Hashable, Comparable, CustomStringConvertible {
        var verb: String
        var group: String
        var resource: String
        static func < (a: Grant, b: Grant) -> Bool { (a.group, a.resource, a.verb) < (b.group, b.resource, b.verb) }
        var description: String { "\(verb) \(group.isEmpty ? "core" : group)/\(resource)" }
    }

    @Test("the documented operator Role grants exactly what settle drain uses")
    func documentedRoleMatchesRequests() async throws {
        var recorded: [RecordedRequest] = []
        try await DrainCluster.with { cluster in
            await cluster.hold("node-b")
            let timedOut = try await cluster.drain(["pod/web-1", "--timeout", "1s"]).finish()
            #expect(timedOut.status == 1, "\(timedOut.stdout)\n\(timedOut.stderr)")
            let undone = try await cluster.drain(["--undo", "pod/web-1"]).finish()
            #expect(undone.status == 0, "\(undone.stderr)")
            cluster.release("node-b")
            let dryRun = try await cluster.drain(["pod/web-2", "--dry-run"]).finish()
            #expect(dryRun.status == 0, "\(dryRun.stderr)")
            let drained = try await cluster.drain(["pod/web-1", "--timeout", "60s"]).finish()
            #expect(drained.status == 0, "\(drained.stderr)")
            let lonely = try await cluster.drain(["pod/batch-1"]).finish()
            #expect(lonely.status == 0, "\(lonely.stderr)")
            recorded = await cluster.server.state.recordedRequests
        }
        // The drain's requests are the ones in the pods' namespace; the aggregator's are cluster-wide.
        var used = Set<Grant>()
        for request in recorded where request.path.contains("/namespaces/shop/") {
            used.insert(try #require(Self.grant(request), "cannot classify \(request.method) \(request.path)"))
        }
        let granted = try Self.documentedRole()
        #expect(used == granted, "used \(used.sorted()), documented \(granted.sorted())")
    }

    /// The RBAC attributes of a namespaced resource request (the only kind the drain makes).
    static func grant(_ request: RecordedRequest) -> Grant? {
        var parts = request.path.split(separator: "/").map(String.init)
        let group: String
        switch parts.first {
        case "api": group = ""; parts.removeFirst(min(2, parts.count))
        case "apis": group = parts.count > 1 ? parts[1] : ""; parts.removeFirst(min(3, parts.count))
        default: return nil
        }
        guard parts.count >= 3, parts[0] == "namespaces" else { return nil }
        parts.removeFirst(2)
        let named = parts.count == 2
        let verb: String
        switch request.method {
        case "GET": verb = request.isWatch ? "watch" : (named ? "get" : "list")
        case "PATCH": verb = "patch"
        case "PUT": verb = "update"
        case "POST": verb = "create"
        case "DELETE": verb = named ? "delete" : "deletecollection"
        default: return nil
        }
        return Grant(verb: verb, group: group, resource: parts[0])
    }

    /// The grants of the Role in docs/tools.md: the ```yaml block after the marker, flow-style lists.
    static func documentedRole() throws -> Set<Grant> {
        let text = try String(contentsOf: CLITests.packageRoot.appendingPathComponent("docs/tools.md"), encoding: .utf8)
        guard let marker = text.range(of: "<!-- settle-drain-role"),
            let start = text.range(of: "```yaml\n", range: marker.upperBound..<text.endIndex),
            let end = text.range(of: "```", range: start.upperBound..<text.endIndex)
        else { throw TestFailure("docs/tools.md has no settle-drain-role YAML block") }
        let yaml = text[start.upperBound..<end.lowerBound]
        #expect(yaml.contains("kind: Role"))
        func list(_ line: Substring) -> [String] {
            guard let open = line.firstIndex(of: "["), let close = line.lastIndex(of: "]") else { return [] }
            return line[line.index(after: open)..<close].split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        var grants = Set<Grant>()
        var groups: [String] = [], resources: [String] = []
        for line in yaml.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("- apiGroups:") { groups = list(line) }
            if trimmed.hasPrefix("resources:") { resources = list(line) }
            if trimmed.hasPrefix("verbs:") {
                for group in groups { for resource in resources { for verb in list(line) { grants.insert(Grant(verb: verb, group: group, resource: resource)) } } }
            }
        }
        return grants
    }
}
