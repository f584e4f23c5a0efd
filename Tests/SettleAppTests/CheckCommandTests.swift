import Foundation
import Testing

/// `settle check` end to end on a real kernel: a cluster written as YAML, kube-proxy's nftables
/// rules (the 1.29–1.35 layout, per-endpoint chains behind a numgen vmap) loaded into a scratch
/// namespace, and the binary's exit status and JSON as the preStop flow moves on. Needs the built
/// binary (`swift build` first) and root.
@Suite(.serialized, .enabled(if: geteuid() == 0, "needs root for network namespaces"))
struct CheckCommandTests {
    /// One endpoint of `shop/web:http` (ClusterIP 10.96.0.10:80 → 8080) in the slice `web-abc`.
    struct Pod {
        var ip: String
        var ready = true
        var serving = true
        var terminating = false
    }

    /// Services, one EndpointSlice at `generation` and the Node, as `kubectl get … -o yaml` prints them.
    static func cluster(_ pods: [Pod], generation: Int) -> String {
        let endpoints = pods.map { pod in
            """
              - addresses: [\(pod.ip)]
                conditions: {ready: \(pod.ready), serving: \(pod.serving), terminating: \(pod.terminating)}
                nodeName: worker-b
                targetRef: {kind: Pod, namespace: shop, name: web-\(pod.ip.split(separator: ".").last!)}
            """
        }.joined(separator: "\n")
        return """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Service
              metadata: {name: web, namespace: shop, uid: svc-web}
              spec:
                type: ClusterIP
                clusterIP: 10.96.0.10
                clusterIPs: [10.96.0.10]
                ipFamilies: [IPv4]
                ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080}]
            - apiVersion: discovery.k8s.io/v1
              kind: EndpointSlice
              metadata:
                name: web-abc
                namespace: shop
                uid: slice-web-abc
                generation: \(generation)
                labels: {kubernetes.io/service-name: web}
              addressType: IPv4
              ports: [{name: http, port: 8080, protocol: TCP}]
              endpoints:
            \(endpoints)
            - apiVersion: v1
              kind: Node
              metadata:
                name: worker-a
                labels: {kubernetes.io/hostname: worker-a, topology.kubernetes.io/zone: zone-a}

            """
    }

    /// kube-proxy's full sync of `shop/web:http` routing to `endpoints` (IPs, port 8080): the table
    /// is replaced in one transaction.
    static func rules(_ endpoints: [String]) -> String {
        let chain = "service-WEBHTTP2-shop/web/tcp/http"
        func endpointChain(_ i: Int, _ ip: String) -> String {
            "endpoint-ENDPNTA\(Character(UnicodeScalar(UInt8(ascii: "A") + UInt8(i))))-shop/web/tcp/http__\(ip)/8080"
        }
        let vmap = endpoints.enumerated().map { "\($0.offset) : goto \(endpointChain($0.offset, $0.element))" }
            .joined(separator: ", ")
        let endpointChains = endpoints.enumerated().map { i, ip in
            "  chain \(endpointChain(i, ip)) { ip saddr \(ip) jump mark-for-masquerade; meta l4proto tcp dnat to \(ip):8080; }"
        }.joined(separator: "\n")
        return """
            add table ip kube-proxy
            delete table ip kube-proxy
            table ip kube-proxy {
              map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }
              map service-nodeports { type inet_proto . inet_service : verdict; }
              chain mark-for-masquerade { mark set mark or 0x4000; }
              chain services {
                ip daddr . meta l4proto . th dport vmap @service-ips
              }
              chain nat-prerouting { type nat hook prerouting priority dstnat; policy accept; jump services; }
              chain \(chain) {
                numgen random mod \(endpoints.count) vmap { \(vmap) }
              }
            \(endpointChains)
            }
            add element ip kube-proxy service-ips { 10.96.0.10 . tcp . 80 : goto \(chain) }

            """
    }

    /// One endpoint of the `check` JSON, reduced to what the steps assert.
    struct Row: Equatable, CustomStringConvertible {
        var ip: String
        var state: String
        var fallback: Bool
        var description: String { "\(ip) \(state)\(fallback ? " fallback" : "")" }
    }

    /// Writes the cluster, runs `settle check --format json` in `ns`, and checks the document's shape.
    static func check(_ ns: String, _ file: URL, _ pods: [Pod], generation: Int) throws -> (status: Int32, rows: [Row]) {
        try Data(cluster(pods, generation: generation).utf8).write(to: file)
        let result = try CLITests.run(
            try CLITests.binary, ["check", "--node", "worker-a", "--from", file.path, "--netns", ns, "--format", "json"])
        #expect(result.status == 0 || result.status == 1, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(document["node"] as? String == "worker-a")
        #expect(document["converged"] as? Bool == (result.status == 0))
        let endpoints = try #require(document["endpoints"] as? [[String: Any]])
        var rows: [Row] = []
        for endpoint in endpoints {
            #expect(endpoint["service"] as? String == "shop/web")
            #expect(endpoint["port"] as? String == "http")
            #expect(endpoint["protocol"] as? String == "TCP")
            #expect(endpoint["targetPort"] as? Int == 8080)
            let slice = try #require(endpoint["slice"] as? [String: Any])
            #expect(slice["uid"] as? String == "slice-web-abc" && slice["generation"] as? Int == generation)
            rows.append(
                Row(
                    ip: try #require(endpoint["ip"] as? String), state: try #require(endpoint["state"] as? String),
                    fallback: try #require(endpoint["fallback"] as? Bool)))
        }
        return (result.status, rows)
    }

    static func nft(_ ns: String, _ script: String) throws {
        let load = try CLITests.run("/usr/sbin/ip", ["netns", "exec", ns, "nft", "-f", "-"], input: script)
        #expect(load.status == 0, "\(load.stderr)")
    }

    @Test("the preStop flow: programmed, then stale while the rules lag, drained once they drop it, fallback for the last serving")
    func preStopFlow() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("settle-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("cluster.yaml")
        try CLITests.withNamespace { ns in
            // Converged: three ready pods, all routed.
            try Self.nft(ns, Self.rules(["10.244.1.5", "10.244.1.6", "10.244.2.7"]))
            var pods = [Pod(ip: "10.244.1.5"), Pod(ip: "10.244.1.6"), Pod(ip: "10.244.2.7")]
            var result = try Self.check(ns, file, pods, generation: 1)
            #expect(result.status == 0)
            #expect(result.rows.map(\.description) == ["10.244.1.5 programmed", "10.244.1.6 programmed", "10.244.2.7 programmed"])

            // The pod behind 10.244.1.6 starts terminating; kube-proxy has not synced yet.
            pods[1] = Pod(ip: "10.244.1.6", ready: false, serving: true, terminating: true)
            result = try Self.check(ns, file, pods, generation: 2)
            #expect(result.status == 1)
            #expect(result.rows.map(\.description) == ["10.244.1.5 programmed", "10.244.1.6 stale", "10.244.2.7 programmed"])

            // kube-proxy syncs and drops it: drained, converged again.
            try Self.nft(ns, Self.rules(["10.244.1.5", "10.244.2.7"]))
            result = try Self.check(ns, file, pods, generation: 2)
            #expect(result.status == 0)
            #expect(result.rows.map(\.description) == ["10.244.1.5 programmed", "10.244.1.6 drained", "10.244.2.7 programmed"])

            // Every pod terminating, 10.244.1.6 no longer serving: the serving ones are kept on purpose.
            pods = [
                Pod(ip: "10.244.1.5", ready: false, serving: true, terminating: true),
                Pod(ip: "10.244.1.6", ready: false, serving: false, terminating: true),
                Pod(ip: "10.244.2.7", ready: false, serving: true, terminating: true),
            ]
            result = try Self.check(ns, file, pods, generation: 3)
            #expect(result.status == 0)
            #expect(
                result.rows.map(\.description) == [
                    "10.244.1.5 programmed fallback", "10.244.1.6 drained", "10.244.2.7 programmed fallback",
                ])
        }
    }

    @Test("the table lists divergent endpoints, then a summary; --all lists every endpoint")
    func table() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("settle-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("cluster.yaml")
        try Data(Self.cluster([Pod(ip: "10.244.1.5"), Pod(ip: "10.244.1.6")], generation: 4).utf8).write(to: file)
        try CLITests.withNamespace { ns in
            try Self.nft(ns, Self.rules(["10.244.1.5", "10.244.9.9"]))
            let settle = try CLITests.binary
            let arguments = ["check", "--node", "worker-a", "--from", file.path, "--netns", ns]
            let result = try CLITests.run(settle, arguments)
            #expect(result.status == 1, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 4, "\(result.stdout)")
            #expect(lines.dropFirst().first?.contains("10.244.1.6:8080") == true && lines[1].contains("missing"))
            #expect(lines.dropFirst(2).first?.contains("10.244.9.9:8080") == true && lines[2].contains("stale"))
            #expect(lines.last == "node worker-a (nftables): NOT converged: 3 endpoints: 1 programmed, 1 missing, 1 stale, 0 drained")

            let all = try CLITests.run(settle, arguments + ["--all"])
            #expect(all.status == 1)
            #expect(all.stdout.split(separator: "\n").count == 5)
            #expect(all.stdout.contains("10.244.1.5:8080") && all.stdout.contains("programmed"))
        }
    }

    @Test("an unreadable PATH is one error line and exit status 2, never 1")
    func unreadable() throws {
        let result = try CLITests.run(
            try CLITests.binary, ["check", "--node", "worker-a", "--from", "/nonexistent/settle-check.yaml"])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines.first?.hasPrefix("error: ") == true, "\(result.stderr)")
    }

    @Test("a missing namespace is exit status 2")
    func missingNamespace() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("settle-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("cluster.yaml")
        try Data(Self.cluster([Pod(ip: "10.244.1.5")], generation: 1).utf8).write(to: file)
        let result = try CLITests.run(
            try CLITests.binary, ["check", "--node", "worker-a", "--from", file.path, "--netns", "settle-no-such-namespace"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("error: network namespace \"settle-no-such-namespace\" not found"))
    }
}
