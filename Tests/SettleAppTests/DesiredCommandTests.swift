import ArgumentParser
import Foundation
import Testing

@testable import SettleApp

/// `settle desired`: argument parsing, the table and JSON output, and errors.
struct DesiredCommandTests {
    static let cluster = """
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: Service
          metadata: {name: web, namespace: shop, uid: s1}
          spec:
            type: NodePort
            clusterIP: 10.96.0.10
            clusterIPs: [10.96.0.10]
            ipFamilies: [IPv4]
            ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080, nodePort: 30080}]
        - apiVersion: discovery.k8s.io/v1
          kind: EndpointSlice
          addressType: IPv4
          metadata:
            name: web-abc
            namespace: shop
            uid: e1
            generation: 3
            labels: {kubernetes.io/service-name: web}
          ports: [{name: http, port: 8080, protocol: TCP}]
          endpoints:
          - addresses: [10.244.1.5]
            conditions: {ready: false, serving: true, terminating: true}
            nodeName: worker-a
            hints: {forZones: [{name: zone-a}]}
          - addresses: [10.244.2.6]
            conditions: {ready: false, serving: true, terminating: true}
            nodeName: worker-b
            hints: {forZones: [{name: zone-b}]}
        ---
        apiVersion: v1
        kind: Node
        metadata: {name: worker-a, labels: {topology.kubernetes.io/zone: zone-a}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: p, namespace: shop}
        """

    static func fixture(_ files: [String: String]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("settle-desired-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, text) in files {
            try text.write(toFile: (dir as NSString).appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return dir
    }

    @Test("parses --node, --from and --format")
    func parsing() throws {
        let command = try DesiredCommand.parse(["--node", "worker-a", "--from", "/tmp/x", "--format", "json"])
        #expect(command.node == "worker-a")
        #expect(command.from == "/tmp/x")
        #expect(command.format == .json)
        #expect(command.preferSameTrafficDistribution)
        #expect(throws: (any Error).self) { try DesiredCommand.parse(["--from", "/tmp/x"]) }
    }

    @Test("JSON output is the dataplane shape under node, with the fallback endpoints kube-proxy keeps")
    func json() throws {
        let dir = try Self.fixture(["cluster.yaml": Self.cluster])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rendered = try DesiredCommand.render(from: dir, node: "worker-a", format: .json)
        #expect(rendered.output == """
            {
              "node" : "worker-a",
              "servicePorts" : [
                {
                  "endpoints" : [
                    {
                      "ip" : "10.244.1.5",
                      "port" : 8080
                    },
                    {
                      "ip" : "10.244.2.6",
                      "port" : 8080
                    }
                  ],
                  "frontends" : [
                    {
                      "ip" : "10.96.0.10",
                      "kind" : "clusterIP",
                      "port" : 80
                    },
                    {
                      "kind" : "nodePort",
                      "port" : 30080
                    }
                  ],
                  "port" : "http",
                  "protocol" : "TCP",
                  "service" : "shop/web"
                }
              ]
            }

            """)
        #expect(rendered.notes == ["ignored 1 objects of other kinds (Pod 1)"])
    }

    @Test("the table marks fallback endpoints and notes a missing Node")
    func table() throws {
        let dir = try Self.fixture(["cluster.yaml": Self.cluster])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rendered = try DesiredCommand.render(from: dir, node: "worker-z", format: .table)
        #expect(rendered.output.hasPrefix("node: worker-z, zone: none, 1 service ports\n"))
        #expect(rendered.output.contains("shop/web:http"))
        #expect(rendered.output.contains("10.244.1.5:8080 (fallback) 10.244.2.6:8080 (fallback)"))
        #expect(rendered.notes.first?.contains("no Node named worker-z") == true)
    }

    @Test("an unparseable file fails with exit status 2")
    func brokenInput() async throws {
        let dir = try Self.fixture(["bad.yaml": "kind: [\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let command = try DesiredCommand.parse(["--node", "n", "--from", dir])
        await #expect(throws: ExitCode(2)) { try await command.run() }
    }
}
