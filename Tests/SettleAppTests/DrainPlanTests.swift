import SettleKube
import Testing

@testable import SettleApp

/// The rules `settle drain` plans its label change by (``DrainPlan``), without a cluster.
struct DrainPlanTests {
    static func pod(_ labels: [String: String], name: String = "p", ip: String = "10.0.0.1") -> V1Pod {
        V1Pod(metadata: ObjectMeta(name: name, namespace: "ns", labels: labels), status: .init(podIP: ip))
    }

    static func service(_ name: String, _ selector: [String: String]?) -> V1Service {
        V1Service(metadata: ObjectMeta(name: name, namespace: "ns"), spec: .init(selector: selector))
    }

    static func slice(_ service: String, _ endpoints: [(pod: String, ip: String, ready: Bool?)]) -> V1EndpointSlice {
        V1EndpointSlice(
            metadata: ObjectMeta(name: "\(service)-x", namespace: "ns", labels: [V1EndpointSlice.serviceNameLabel: service]),
            addressType: .ipv4,
            endpoints: endpoints.map {
                .init(addresses: [$0.ip], conditions: .init(ready: $0.ready), targetRef: ObjectReference(kind: "Pod", namespace: "ns", name: $0.pod))
            })
    }

    @Test("one key shared by every selector is changed; Services without a selector or not matching are left out")
    func sharedKey() {
        let plan = DrainPlan(
            pod: Self.pod(["app": "web", "tier": "front", "hash": "1"]),
            services: [
                Self.service("a", ["app": "web", "tier": "front"]), Self.service("b", ["tier": "front", "app": "web"]),
                Self.service("c", ["app": "other"]), Self.service("manual", nil), Self.service("empty", [:]),
            ],
            slices: [])
        #expect(plan.services == ["ns/a", "ns/b"])
        #expect(plan.changes == ["app": .init(from: "web", to: "settle-drained")])
        #expect(plan.labels(from: ["app": "web", "tier": "front", "hash": "1"]) == ["app": "settle-drained", "tier": "front", "hash": "1"])
    }

    @Test("no key in every selector: the fewest keys that cover them all")
    func coverWithoutSharedKey() {
        let plan = DrainPlan(
            pod: Self.pod(["app": "web", "tier": "front", "zone": "z1"]),
            services: [Self.service("a", ["app": "web"]), Self.service("b", ["tier": "front"]), Self.service("c", ["tier": "front", "zone": "z1"])],
            slices: [])
        #expect(Set(plan.changes.keys) == ["app", "tier"])
        let relabelled = plan.labels(from: ["app": "web", "tier": "front", "zone": "z1"])
        for service in [Self.service("a", ["app": "web"]), Self.service("b", ["tier": "front"]), Self.service("c", ["tier": "front", "zone": "z1"])] {
            #expect(!DrainPlan.selects(service, relabelled), "\(service.key) still selects \(relabelled)")
        }
    }

    @Test("the new value is one no Service selects")
    func valueNobodySelects() {
        let plan = DrainPlan(
            pod: Self.pod(["app": "web"]),
            services: [Self.service("web", ["app": "web"]), Self.service("odd", ["app": "settle-drained"])],
            slices: [])
        #expect(plan.changes == ["app": .init(from: "web", to: "settle-drained-2")])
    }

    @Test("a Service whose slices list no other ready endpoint is named; not-ready and same-IP endpoints do not count")
    func lastReadyEndpoint() {
        let services = [Self.service("web", ["app": "web"]), Self.service("solo", ["app": "web", "role": "x"])]
        let plan = DrainPlan(
            pod: Self.pod(["app": "web", "role": "x"], name: "p", ip: "10.0.0.1"),
            services: services,
            slices: [
                Self.slice("web", [("p", "10.0.0.1", true), ("q", "10.0.0.2", nil)]),
                Self.slice("solo", [("p", "10.0.0.1", true), ("q", "10.0.0.2", false), ("other-name", "10.0.0.1", true)]),
            ])
        #expect(plan.lastReadyIn == ["ns/solo"])
    }

    @Test("the record round-trips through the annotation and knows whether the labels are still as it left them")
    func record() throws {
        let record = DrainRecord(labels: ["app": .init(from: "web", to: "settle-drained")], services: ["ns/web"], at: "2026-11-27T23:00:00Z")
        var pod = Self.pod(["app": "settle-drained"])
        pod.metadata.annotations = [DrainRecord.annotation: record.encoded]
        #expect(DrainRecord.read(from: pod) == record)
        #expect(record.isApplied(to: ["app": "settle-drained"]))
        #expect(!record.isApplied(to: ["app": "web"]))
        pod.metadata.annotations = [DrainRecord.annotation: "not json"]
        #expect(DrainRecord.read(from: pod) == nil)
    }
}
