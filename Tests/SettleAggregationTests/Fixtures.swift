import Foundation
import SettleAcks
import SettleAggregation
import SettleConvergence
import SettleKube
import SettleModel
import SettleSelection

/// Small builders for the aggregation tests: slices, acks, stream messages.
enum Fixture {
    static let service = "shop/web"
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func ip(_ text: String) -> IPAddress { IPAddress(text)! }

    /// A slice of `shop/web` (uid `uid`) at `generation`/`version` listing `endpoints` (IP → condition).
    static func slice(
        uid: String = "uid-a", name: String = "web-a", generation: Int64, version: Int,
        _ endpoints: [(String, EndpointIndex.Condition)], pods: [String: String] = [:]
    ) -> V1EndpointSlice {
        V1EndpointSlice(
            metadata: ObjectMeta(
                name: name, namespace: "shop", uid: uid, resourceVersion: String(version), generation: generation,
                labels: [V1EndpointSlice.serviceNameLabel: "web"]),
            addressType: .ipv4,
            endpoints: endpoints.map { address, condition in
                let conditions: V1EndpointSlice.Conditions =
                    switch condition {
                    case .ready: .init(ready: true, serving: true, terminating: false)
                    case .terminating: .init(ready: false, serving: true, terminating: true)
                    case .notReady, .removed: .init(ready: false, serving: false, terminating: false)
                    }
                let pod = pods[address].map { ObjectReference(kind: "Pod", namespace: "shop", name: $0) }
                return V1EndpointSlice.Endpoint(addresses: [address], conditions: conditions, targetRef: pod)
            },
            ports: [.init(name: "http", protocol: .tcp, port: 8080)])
    }

    static func key(_ address: String) -> AckKey {
        AckKey(service: service, port: "http", protocol: .tcp, ip: ip(address), targetPort: 8080)
    }

    static func ack(
        _ address: String, _ state: EndpointState, generation: Int64?, uid: String = "uid-a", fallback: Bool = false
    ) -> Ack {
        Ack(
            key: key(address), state: state, fallback: fallback, reason: state == .programmed ? .desiredAndRouted : .terminating,
            slice: SliceReference(name: "web-a", uid: uid, generation: generation), targetRef: nil,
            change: state == .programmed || state == .missing ? .added : .removed, since: t0,
            convergedAt: state == .drained || state == .programmed ? t0 : nil)
    }

    static func snapshot(node: String, watch: Int?, acks: [Ack] = [], ready: Bool = true, epoch: String = "e1") -> AckMessage {
        .snapshot(AckSnapshot(node: node, epoch: epoch, seq: 0, ready: ready, watch: watch.map(String.init), acks: acks, mode: "nftables"))
    }

    static func delta(seq: UInt64, watch: Int?, acks: [Ack] = [], expired: [AckKey] = []) -> AckMessage {
        .delta(AckDelta(seq: seq, acks: acks, expired: expired, watch: watch.map(String.init)))
    }

    /// An aggregation with agents on `nodes`, each connected and ready at watch `watch`.
    static func aggregation(nodes: [String], watch: Int, policy: UnknownNodePolicy = .block) -> Aggregation {
        var aggregation = Aggregation(policy: policy, silenceTimeout: 15, notReadyGrace: 300)
        for node in nodes {
            _ = aggregation.setAgent("http://\(node):9467", node: node)
            _ = aggregation.apply(snapshot(node: node, watch: watch), from: node, at: t0)
        }
        return aggregation
    }
}
