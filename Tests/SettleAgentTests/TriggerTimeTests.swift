import SettleAgent
import SettleKube
import Testing

/// The convergence latency starts at the slice's `last-change-trigger-time`.
struct TriggerTimeTests {
    static func slice(_ uid: String?, _ annotation: String?) -> V1EndpointSlice {
        V1EndpointSlice(
            metadata: ObjectMeta(
                name: "s", namespace: "ns", uid: uid,
                annotations: annotation.map { [NodeAgent.lastChangeTriggerTime: $0] }),
            addressType: .ipv4, endpoints: [], ports: [])
    }

    @Test("RFC 3339 trigger times, with or without fractions, by slice UID; unparsable or anonymous ones are left out")
    func parsing() {
        let triggers = NodeAgent.triggers([
            Self.slice("a", "2026-11-27T10:00:00Z"),
            Self.slice("b", "2026-11-27T10:00:00.250Z"),
            Self.slice("c", "yesterday"),
            Self.slice(nil, "2026-11-27T10:00:00Z"),
            Self.slice("d", nil),
        ])
        #expect(triggers == ["a": 1_795_773_600, "b": 1_795_773_600.25])
    }
}
