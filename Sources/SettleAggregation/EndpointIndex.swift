public import Foundation
public import SettleKube
public import SettleModel

/// What the aggregator itself saw in the EndpointSlices: for every endpoint IP, each slice that
/// lists it (or listed it, for `remember`), its condition there, and the slice change at which
/// that condition last changed — the reference every node's ack is measured against (brief §2,
/// freshness).
///
/// Memory is one small record per (IP, slice): the aggregator needs to know at which generation
/// any endpoint changed, so it holds all of them (about 150k records at 10k services).
public struct EndpointIndex: Sendable {
    /// An endpoint's condition in one slice.
    public enum Condition: String, Hashable, Sendable, Codable {
        /// Ready (kube-proxy routes it; `ready` unset counts as ready, as in the API).
        case ready
        /// Terminating (routed only as kube-proxy's serving-terminating fallback).
        case terminating
        /// Not ready and not terminating (a failing readiness probe).
        case notReady
        /// No longer listed by the slice (or the slice was deleted).
        case removed

        init(_ conditions: V1EndpointSlice.Conditions?) {
            if conditions?.terminating == true {
                self = .terminating
            } else if conditions?.ready ?? true {
                self = .ready
            } else {
                self = .notReady
            }
        }
    }

    /// One (IP, slice) record.
    public struct Listing: Hashable, Sendable {
        public var ip: IPAddress
        /// The slice's name, UID and owning Service (`namespace/name`).
        public var slice: String
        public var uid: String
        public var service: String
        public var condition: Condition
        /// `namespace/name` of the endpoint's Pod, when the slice names it.
        public var pod: String?
        /// The slice generation and resourceVersion at which `condition` last changed, and when
        /// the aggregator saw that.
        public var changedGeneration: Int64?
        public var changedVersion: String?
        public var changedAt: Date

        public var change: EndpointChange {
            EndpointChange(slice: slice, uid: uid, generation: changedGeneration, resourceVersion: changedVersion, observedAt: changedAt)
        }
    }

    private struct SliceRecord: Sendable {
        var key: String
        var ips: Set<IPAddress>
        var generation: Int64?
    }

    /// Listings by IP, then by slice UID.
    private var byIP: [IPAddress: [String: Listing]] = [:]
    /// The IPs each live slice lists, by slice UID.
    private var slices: [String: SliceRecord] = [:]
    /// `namespace/name` of each pod → its IPs, as slices' `targetRef`s gave them (kept after the
    /// endpoint leaves the slice, for `remember`).
    private var pods: [String: Set<IPAddress>] = [:]
    /// The newest resourceVersion applied.
    public private(set) var resourceVersion: String?
    /// Per Service (`namespace/name`), the resourceVersion of its newest endpoint change.
    private var serviceChanges: [String: String] = [:]

    /// The resourceVersion of the newest endpoint change of `service`, or `nil` when no slice of
    /// it was seen (or it is remembered only through forgotten records).
    public func newestChange(of service: String) -> String?? {
        guard let version = serviceChanges[service] else { return nil }
        return .some(version.isEmpty ? nil : version)
    }

    private mutating func noteChange(service: String, version: String?) {
        let held = serviceChanges[service]
        let newer = version.flatMap { UInt64($0) }.map { new in held.flatMap { UInt64($0) }.map { new >= $0 } ?? true } ?? false
        if held == nil || newer {
            serviceChanges[service] = version ?? ""
        }
    }

    public init() {}

    /// How many (IP, slice) records are held.
    public private(set) var count = 0

    /// The listings of one IP, live and removed, sorted by slice name.
    public func listings(of ip: IPAddress) -> [Listing] {
        (byIP[ip]?.values).map { $0.sorted { ($0.slice, $0.uid) < ($1.slice, $1.uid) } } ?? []
    }

    /// The IPs slices gave a pod (`namespace/name`), sorted.
    public func ips(ofPod pod: String) -> [IPAddress]? {
        pods[pod].map { $0.sorted() }
    }

    /// Adds or replaces one slice; returns the IPs whose listings changed.
    @discardableResult
    public mutating func upsert(_ slice: V1EndpointSlice, resourceVersion: String? = nil, now: Date) -> Set<IPAddress> {
        guard let uid = slice.metadata.uid ?? slice.metadata.name.map({ "\(slice.metadata.namespace ?? "")/\($0)" }) else {
            return []
        }
        let version = slice.metadata.resourceVersion ?? resourceVersion
        advance(to: version)
        let generation = slice.metadata.generation
        let name = slice.metadata.name ?? uid
        let service = "\(slice.metadata.namespace ?? "")/\(slice.serviceName ?? "")"
        var listed: [IPAddress: (Condition, String?)] = [:]
        for endpoint in slice.endpoints ?? [] {
            let condition = Condition(endpoint.conditions)
            let pod = endpoint.targetRef.flatMap { ref -> String? in
                guard ref.kind == nil || ref.kind == "Pod", let name = ref.name else { return nil }
                return "\(ref.namespace ?? slice.metadata.namespace ?? "")/\(name)"
            }
            for address in endpoint.addresses {
                guard let ip = IPAddress(address) else { continue }
                // An address listed twice keeps its most routable condition.
                if let held = listed[ip], held.0 == .ready { continue }
                listed[ip] = (condition, pod)
            }
        }
        var touched: Set<IPAddress> = []
        let previous = slices[uid]?.ips ?? []
        for (ip, (condition, pod)) in listed {
            var entries = byIP[ip] ?? [:]
            let held = entries[uid]
            if held?.condition != condition || held?.pod != pod || held == nil {
                let changed = held?.condition != condition
                if held == nil { count += 1 }
                entries[uid] = Listing(
                    ip: ip, slice: name, uid: uid, service: service, condition: condition, pod: pod ?? held?.pod,
                    changedGeneration: changed ? generation : held?.changedGeneration,
                    changedVersion: changed ? version : held?.changedVersion,
                    changedAt: changed ? now : held?.changedAt ?? now)
                byIP[ip] = entries
                touched.insert(ip)
                if changed { noteChange(service: service, version: version) }
            }
            if let pod { pods[pod, default: []].insert(ip) }
        }
        for ip in previous where listed[ip] == nil {
            markRemoved(ip: ip, uid: uid, generation: generation, version: version, now: now)
            touched.insert(ip)
        }
        slices[uid] = SliceRecord(key: "\(slice.metadata.namespace ?? "")/\(name)", ips: Set(listed.keys), generation: generation)
        return touched
    }

    /// Deletes one slice: its endpoints become `removed` at the deletion's resourceVersion.
    @discardableResult
    public mutating func delete(_ slice: V1EndpointSlice, resourceVersion: String? = nil, now: Date) -> Set<IPAddress> {
        guard let uid = slice.metadata.uid ?? slice.metadata.name.map({ "\(slice.metadata.namespace ?? "")/\($0)" }),
            let record = slices.removeValue(forKey: uid)
        else { return [] }
        let version = slice.metadata.resourceVersion ?? resourceVersion
        advance(to: version)
        for ip in record.ips {
            markRemoved(ip: ip, uid: uid, generation: slice.metadata.generation ?? record.generation, version: version, now: now)
        }
        return record.ips
    }

    /// Replaces every slice with a fresh list (after a relist): upserts, and deletes of the slices
    /// the list no longer has. Returns the IPs whose listings changed.
    @discardableResult
    public mutating func replace(with list: [V1EndpointSlice], resourceVersion: String?, now: Date) -> Set<IPAddress> {
        var touched: Set<IPAddress> = []
        var seen: Set<String> = []
        for slice in list {
            if let uid = slice.metadata.uid ?? slice.metadata.name.map({ "\(slice.metadata.namespace ?? "")/\($0)" }) {
                seen.insert(uid)
            }
            touched.formUnion(upsert(slice, resourceVersion: resourceVersion, now: now))
        }
        for (uid, record) in slices where !seen.contains(uid) {
            slices[uid] = nil
            for ip in record.ips {
                markRemoved(ip: ip, uid: uid, generation: record.generation, version: resourceVersion, now: now)
                touched.insert(ip)
            }
        }
        advance(to: resourceVersion)
        return touched
    }

    /// A bookmark or list: the watch reached `resourceVersion`.
    public mutating func advance(to version: String?) {
        guard let version else { return }
        if let held = resourceVersion.flatMap(UInt64.init), let new = UInt64(version), new < held { return }
        resourceVersion = version
    }

    /// Forgets removed listings that changed before `cutoff`, and pods with no IP left.
    /// Returns how many listings went.
    @discardableResult
    public mutating func forget(removedBefore cutoff: Date) -> Int {
        var forgotten = 0
        var forgottenIPs: Set<IPAddress> = []
        for (ip, entries) in byIP {
            let kept = entries.filter { $0.value.condition != .removed || $0.value.changedAt >= cutoff }
            guard kept.count != entries.count else { continue }
            forgotten += entries.count - kept.count
            count -= entries.count - kept.count
            if kept.isEmpty {
                byIP[ip] = nil
                forgottenIPs.insert(ip)
            } else {
                byIP[ip] = kept
            }
        }
        if !forgottenIPs.isEmpty {
            for (pod, ips) in pods {
                let kept = ips.subtracting(forgottenIPs)
                pods[pod] = kept.isEmpty ? nil : kept
            }
        }
        return forgotten
    }

    private mutating func markRemoved(ip: IPAddress, uid: String, generation: Int64?, version: String?, now: Date) {
        guard var listing = byIP[ip]?[uid], listing.condition != .removed else { return }
        listing.condition = .removed
        listing.changedGeneration = generation
        listing.changedVersion = version
        listing.changedAt = now
        byIP[ip]?[uid] = listing
        noteChange(service: listing.service, version: version)
    }
}

/// resourceVersions as numbers: etcd-backed API servers give decimal integers that grow with
/// every write, so "has this watch passed that change" is a comparison. `nil` when either is not
/// a decimal number (then only slice generations decide).
public func resourceVersion(_ lhs: String?, isAtLeast rhs: String?) -> Bool? {
    guard let lhs = lhs.flatMap({ UInt64($0) }), let rhs = rhs.flatMap({ UInt64($0) }) else { return nil }
    return lhs >= rhs
}
