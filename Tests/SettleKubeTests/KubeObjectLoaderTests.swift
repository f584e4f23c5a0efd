import Foundation
import SettleKube
import SettleModel
import Testing

/// Loading what kubectl prints, and refusing what it would not.
struct KubeObjectLoaderTests {
    /// Writes `files` (name → content) into a fresh temporary directory.
    static func directory(_ files: [String: String]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("settle-kube-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, content) in files {
            let path = (dir as NSString).appendingPathComponent(name)
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try content.write(toFile: path, atomically: true, encoding: .utf8)
        }
        return dir
    }

    /// Expects a load of `text` to fail, and returns the error.
    static func failure(_ text: String, path: String = "broken.yaml") -> KubeLoadError? {
        do {
            _ = try KubeObjectLoader.load(text: text, path: path)
            return nil
        } catch {
            return error
        }
    }

    @Test("loads kubectl get services,endpointslices,nodes -A -o yaml output")
    func kubectlList() throws {
        let objects = try KubeObjectLoader.load(text: KubectlFixture.yaml, path: "cluster.yaml")
        #expect(objects.services.map(\.key) == ["default/kubernetes", "shop/web", "shop/db"])
        #expect(objects.endpointSlices.map(\.key) == ["default/kubernetes", "shop/web-x7k2q", "shop/db-9hd2k"])
        #expect(objects.nodes.map(\.key) == ["worker-a"])
        #expect(objects.ignoredCount == 0)

        let web = try #require(objects.services.first { $0.metadata.name == "web" })
        #expect(web.spec.type == .loadBalancer)
        #expect(web.spec.externalTrafficPolicy == .local)
        #expect(web.spec.healthCheckNodePort == 31877)
        #expect(web.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds == 10800)
        #expect(web.spec.ports?.first == V1Service.ServicePort(
            name: "http", protocol: .tcp, port: 80, targetPort: .string("http"), nodePort: 30080))
        #expect(web.status?.loadBalancer?.ingress?.map(\.ip) == ["203.0.113.10", nil])
        #expect(web.status?.loadBalancer?.ingress?.last?.hostname == "web.example.net")

        let slice = try #require(objects.endpointSlices.first { $0.metadata.name == "web-x7k2q" })
        #expect(slice.addressType == .ipv4)
        #expect(slice.serviceName == "web")
        #expect(slice.metadata.generation == 7)
        #expect(slice.metadata.uid == "2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091")
        #expect(slice.lastChangeTriggerTime == "2025-01-12T08:30:01Z")
        #expect(slice.ports == [V1EndpointSlice.EndpointPort(name: "http", protocol: .tcp, port: 8080)])
        let terminating = try #require(slice.endpoints?.last)
        #expect(terminating.conditions == .init(ready: false, serving: true, terminating: true))
        #expect(terminating.targetRef?.name == "web-6d4cf56db6-q7w4z")
        #expect(terminating.nodeName == "worker-b")
        #expect(terminating.zone == "zone-b")

        let headless = try #require(objects.endpointSlices.first { $0.metadata.name == "db-9hd2k" })
        #expect(headless.endpoints == nil)
        #expect(headless.ports == nil)

        let node = try #require(objects.node(named: "worker-a"))
        #expect(node.zone == "zone-a")
        #expect(node.isReady == true)
        #expect(node.spec?.podCIDRs == ["10.244.1.0/24"])
        #expect(node.spec?.taints?.first?.key == "node.kubernetes.io/disk-pressure")
        #expect(node.status?.addresses?.first == .init(type: "InternalIP", address: "172.18.0.3"))
    }

    @Test("loads the same objects from kubectl's JSON output")
    func json() throws {
        let list = """
            {
              "apiVersion": "v1",
              "kind": "List",
              "items": [
                {"apiVersion": "v1", "kind": "Service",
                 "metadata": {"name": "web", "namespace": "shop", "uid": "u1"},
                 "spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 80, "targetPort": 8080}]}},
                {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv6",
                 "metadata": {"name": "web-1", "namespace": "shop", "generation": 3,
                              "labels": {"kubernetes.io/service-name": "web"}},
                 "endpoints": [{"addresses": ["fd00::5"], "conditions": {"ready": null}, "hints": {"forZones": [{"name": "z1"}], "forNodes": [{"name": "n1"}]}}],
                 "ports": [{"name": "", "port": 8080, "appProtocol": "http"}]}
              ]
            }
            """
        let objects = try KubeObjectLoader.load(text: list, path: "cluster.json")
        #expect(objects.services.count == 1)
        #expect(objects.services[0].spec.ports?[0].targetPort == .int(8080))
        #expect(objects.services[0].spec.ports?[0].resolvedProtocol == .tcp)
        let slice = try #require(objects.endpointSlices.first)
        #expect(slice.addressType == .ipv6)
        #expect(slice.endpoints?[0].conditions?.ready == nil)
        #expect(slice.endpoints?[0].hints?.forNodes?.map(\.name) == ["n1"])
        #expect(slice.ports?[0].name == "")
        #expect(slice.ports?[0].protocol == nil)
    }

    @Test("loads multi-document YAML with single objects, typed lists, empty documents and other kinds")
    func multiDocument() throws {
        let text = """
            ---
            # a comment-only document
            ---
            apiVersion: v1
            kind: Node
            metadata: {name: n1, labels: {topology.kubernetes.io/zone: z1}}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: c, namespace: x}
            data: {a: b}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSliceList
            items:
            - addressType: FQDN
              metadata: {name: s, namespace: x, labels: {kubernetes.io/service-name: svc}}
              endpoints: [{addresses: [example.com]}]
            ---
            apiVersion: v1
            kind: List
            items:
            - {apiVersion: v1, kind: Pod, metadata: {name: p, namespace: x}}
            - {apiVersion: discovery.k8s.io/v1beta1, kind: EndpointSlice, addressType: IPv4, metadata: {name: old}}
            - {apiVersion: v1, kind: Service, metadata: {name: svc, namespace: x}, spec: {clusterIP: 10.0.0.1}}
            """
        let objects = try KubeObjectLoader.load(text: text, path: "multi.yaml")
        #expect(objects.nodes.map(\.zone) == ["z1"])
        #expect(objects.endpointSlices.map(\.addressType) == [.fqdn])
        #expect(objects.services.map(\.key) == ["x/svc"])
        #expect(objects.ignored == ["ConfigMap": 1, "Pod": 1, "EndpointSlice (discovery.k8s.io/v1beta1)": 1])
    }

    @Test("ignores unknown fields at every level")
    func unknownFields() throws {
        let text = """
            apiVersion: v1
            kind: Service
            futureTopLevel: {x: 1}
            metadata: {name: a, namespace: b, somethingNew: [1, 2]}
            spec:
              clusterIP: 10.0.0.2
              trafficDistribution: PreferSameNode
              newField: true
              ports:
              - {port: 53, protocol: UDP, name: dns, portHint: 9}
            status: {conditions: [{type: X, status: "True"}], loadBalancer: {ingress: [{ip: 1.2.3.4, ports: [{port: 53, protocol: UDP}]}]}}
            """
        let objects = try KubeObjectLoader.load(text: text, path: "svc.yaml")
        let service = try #require(objects.services.first)
        #expect(service.spec.ports?.first?.resolvedProtocol == .udp)
        #expect(service.spec.trafficDistribution == "PreferSameNode")
        #expect(service.status?.loadBalancer?.ingress?.first?.ip == "1.2.3.4")
    }

    @Test("a YAML syntax error names the file and line")
    func brokenYAML() {
        let text = """
            apiVersion: v1
            kind: Service
            metadata:
              name: a
              namespace: [unclosed
            spec: {}
            """
        let error = Self.failure(text, path: "dir/broken.yaml")
        guard case .unparseable(let path, let line, _) = error else {
            Issue.record("expected unparseable, got \(String(describing: error))")
            return
        }
        #expect(path == "dir/broken.yaml")
        #expect(line != nil && line! >= 5)
        #expect(error?.description.hasPrefix("dir/broken.yaml:") == true)
    }

    @Test("a field of the wrong type names the line of that field")
    func wrongType() {
        let text = """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Service
              metadata: {name: a, namespace: b}
              spec:
                clusterIP: 10.0.0.1
                ports:
                - name: http
                  port: eighty
            """
        let error = Self.failure(text)
        #expect(error == .unparseable(path: "broken.yaml", line: 11, reason: "items[0].spec.ports[0].port: expected Int"))
    }

    @Test("a JSON syntax error names the file and line")
    func brokenJSON() {
        let text = """
            {
              "apiVersion": "v1",
              "kind": "Service",
              "metadata": {"name": "a",, "namespace": "b"}
            }
            """
        let error = Self.failure(text, path: "svc.json")
        guard case .unparseable(let path, let line, _) = error else {
            Issue.record("expected unparseable, got \(String(describing: error))")
            return
        }
        #expect(path == "svc.json")
        #expect(line == 4)
    }

    @Test("a mistyped JSON field names its line")
    func wrongTypeJSON() {
        let text = """
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
             "metadata": {"name": "s", "namespace": "n"},
             "endpoints": [
               {"addresses": ["10.0.0.1"], "conditions": {"ready": "yes-please"}}
             ]}
            """
        let error = Self.failure(text, path: "s.json")
        guard case .unparseable(_, let line, let reason) = error else {
            Issue.record("expected unparseable, got \(String(describing: error))")
            return
        }
        #expect(line == 4)
        #expect(reason.contains("endpoints[0].conditions.ready"))
    }

    @Test("a directory loads every YAML and JSON file beneath it, in path order, skipping others")
    func directoryLoad() throws {
        let dir = try Self.directory([
            "b/nodes.yml": "apiVersion: v1\nkind: Node\nmetadata: {name: n2}\n",
            "a.yaml": "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n",
            "c.json": #"{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n3"}}"#,
            "notes.txt": "not kubernetes",
            ".hidden/x.yaml": "apiVersion: v1\nkind: Node\nmetadata: {name: hidden}\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let objects = try KubeObjectLoader.load(path: dir)
        #expect(objects.nodes.map(\.key) == ["n1", "n2", "n3"])
    }

    @Test("an error in one file of a directory names that file")
    func directoryError() throws {
        let dir = try Self.directory(["ok.yaml": "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n", "bad.yaml": "a: [\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect {
            _ = try KubeObjectLoader.load(path: dir)
        } throws: { error in
            guard case .unparseable(let path, let line, _) = error as? KubeLoadError else { return false }
            return path.hasSuffix("/bad.yaml") && line != nil
        }
    }

    @Test("a missing path is reported as unreadable")
    func missingPath() {
        #expect(throws: KubeLoadError.unreadable(path: "/nonexistent/settle", reason: "no such file or directory")) {
            _ = try KubeObjectLoader.load(path: "/nonexistent/settle")
        }
    }

    @Test("objects encode back with apiVersion and kind and decode to the same value")
    func roundTrip() throws {
        let objects = try KubeObjectLoader.load(text: KubectlFixture.yaml, path: "cluster.yaml")
        for service in objects.services {
            let data = try JSONEncoder().encode(service)
            #expect(try JSONDecoder().decode(V1Service.self, from: data) == service)
            let json = try #require(String(data: data, encoding: .utf8))
            #expect(json.contains(#""kind":"Service""#))
        }
        for slice in objects.endpointSlices {
            #expect(try JSONDecoder().decode(V1EndpointSlice.self, from: JSONEncoder().encode(slice)) == slice)
        }
        for node in objects.nodes {
            #expect(try JSONDecoder().decode(V1Node.self, from: JSONEncoder().encode(node)) == node)
        }
    }
}
