import Foundation
import SettleKube

/// What `settle drain` will change on one pod, decided from the pod, its namespace's Services and their
/// EndpointSlices. Pure: no I/O, so every rule is tested without a cluster.
///
/// The label change: one key present in the selector of every Service that selects the pod, given a
/// value none of the namespace's Services selects; when no key is shared by all of them, the fewest
/// keys that together cover every selector (greedy, ties by name). Service selectors are equality
/// maps, so a pod whose value for a selector key differs leaves that Service, and a value nobody
/// selects joins it to none.
struct DrainPlan: Sendable, Equatable {
    /// The Services whose selector matches the pod now, `namespace/name`, sorted.
    var services: [String]
    /// The label changes, by key.
    var changes: [String: DrainRecord.Change]
    /// Services the pod's removal would leave with no ready endpoint (their slices list no other), sorted.
    var lastReadyIn: [String]

    /// The value given to a changed label (with `-2`, `-3`… if a Service happened to select it).
    static let drainedValue = "settle-drained"

    /// Plans the drain of `pod`. `services` and `slices` are the pod's namespace's.
    init(pod: V1Pod, services: [V1Service], slices: [V1EndpointSlice]) {
        let labels = pod.metadata.labels ?? [:]
        let namespace = pod.metadata.namespace ?? "default"
        let selecting = services.filter { Self.selects($0, labels) }.sorted { $0.key < $1.key }
        self.services = selecting.map(\.key)

        // Keys: one shared by every selector if there is one, else a greedy cover.
        var uncovered = selecting.map { Set(($0.spec.selector ?? [:]).keys) }
        var keys: [String] = []
        while !uncovered.isEmpty {
            var counts: [String: Int] = [:]
            for selector in uncovered { for key in selector { counts[key, default: 0] += 1 } }
            guard let best = counts.sorted(by: { ($1.value, $0.key) < ($0.value, $1.key) }).first?.key else { break }
            keys.append(best)
            uncovered.removeAll { $0.contains(best) }
        }

        // Each changed key gets a value no Service selects for it. Then no Service selects the new
        // labels: one that did before has a changed key in its selector, and one that did not differs
        // from before only in changed keys, which it cannot select.
        var changes: [String: DrainRecord.Change] = [:]
        for key in keys {
            let old = labels[key] ?? ""
            let selected = Set(services.compactMap { $0.spec.selector?[key] })
            var candidate = Self.drainedValue
            var suffix = 1
            while candidate == old || selected.contains(candidate) {
                suffix += 1
                candidate = "\(Self.drainedValue)-\(suffix)"
            }
            changes[key] = DrainRecord.Change(from: old, to: candidate)
        }
        self.changes = changes

        let ips = Set(Self.ips(of: pod))
        lastReadyIn = selecting.compactMap { service in
            let name = service.metadata.name ?? ""
            let others = slices.filter { $0.serviceName == name && ($0.metadata.namespace ?? namespace) == namespace }
                .flatMap { $0.endpoints ?? [] }
                .filter { endpoint in
                    let isPod = endpoint.targetRef?.kind == "Pod" && endpoint.targetRef?.name == pod.metadata.name
                    return !isPod && ips.isDisjoint(with: endpoint.addresses) && endpoint.conditions?.ready != false
                }
            return others.isEmpty ? service.key : nil
        }
    }

    /// The pod's labels after the change.
    func labels(from current: [String: String]) -> [String: String] {
        current.merging(changes.mapValues(\.to)) { $1 }
    }

    /// `app=web → app=settle-drained`, keys sorted.
    var changeText: String {
        changes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.from) → \($0.key)=\($0.value.to)" }.joined(separator: ", ")
    }

    /// Whether a Service with a selector selects these labels (selector-less Services select nothing).
    static func selects(_ service: V1Service, _ labels: [String: String]) -> Bool {
        guard let selector = service.spec.selector, !selector.isEmpty else { return false }
        return selector.allSatisfy { labels[$0.key] == $0.value }
    }

    /// `status.podIPs`, else `status.podIP`.
    static func ips(of pod: V1Pod) -> [String] {
        let listed = (pod.status?.podIPs ?? []).map(\.ip).filter { !$0.isEmpty }
        if !listed.isEmpty { return listed }
        return [pod.status?.podIP].compactMap { $0 }.filter { !$0.isEmpty }
    }
}

/// What `settle drain` writes into the pod's ``annotation`` when it changes the labels: which labels,
/// from what to what, when, and which Services the pod left. It makes the change visible
/// (`kubectl get pod -o yaml`), lets a second run resume an interrupted drain, and `--undo` reverse it.
struct DrainRecord: Codable, Sendable, Equatable {
    /// The annotation key.
    static let annotation = "settle-project.github.io/drain"

    struct Change: Codable, Sendable, Equatable {
        /// The label's value before the drain.
        var from: String
        /// The value the drain gave it.
        var to: String
    }

    /// Label changes by key.
    var labels: [String: Change]
    /// The Services the pod left, `namespace/name`.
    var services: [String]
    /// When the labels were changed (RFC 3339, UTC).
    var at: String

    /// The record on `pod`, if it carries a readable one.
    static func read(from pod: V1Pod) -> DrainRecord? {
        guard let text = pod.metadata.annotations?[annotation] else { return nil }
        return try? JSONDecoder().decode(DrainRecord.self, from: Data(text.utf8))
    }

    /// The annotation's value: compact JSON, keys sorted.
    var encoded: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Whether the pod's labels are still as the drain left them.
    func isApplied(to labels: [String: String]) -> Bool {
        self.labels.allSatisfy { labels[$0.key] == $0.value.to }
    }
}
