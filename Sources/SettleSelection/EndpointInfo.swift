public import SettleModel

/// One endpoint of one service port, as kube-proxy's endpoint cache holds it, plus where it came from.
///
/// Mirrors `BaseEndpointInfo` (KK `pkg/proxy/endpoint.go`) as built by `EndpointSliceCache.addEndpoints`
/// (KK `pkg/proxy/endpointslicecache.go`): conditions already have upstream's nil defaults applied,
/// hints are sets, `local` compares `nodeName` with kube-proxy's node name. The provenance fields
/// (slice, generation, target) are Settle's: the freshness rule (brief §2) needs them.
public struct EndpointInfo: Hashable, Sendable, Comparable {
    public var address: EndpointAddress
    /// `conditions.ready == nil || ready`.
    public var ready: Bool
    /// `conditions.serving == nil || serving` (nil defaults to true, not to `ready`).
    public var serving: Bool
    /// `conditions.terminating != nil && terminating`.
    public var terminating: Bool
    /// `nodeName` equals the node's name (and the node's name is not empty).
    public var local: Bool
    /// `hints.forZones[].name`; empty when the endpoint has no zone hints.
    public var zoneHints: Set<String>
    /// `hints.forNodes[].name`; always empty unless ``SelectionOptions/preferSameTrafficDistribution``.
    public var nodeHints: Set<String>
    public var nodeName: String?
    public var zone: String?
    /// `namespace/name` of `targetRef` (usually the Pod), namespace defaulting to the slice's.
    public var targetRef: String?
    public var slice: SliceReference

    public init(
        address: EndpointAddress, ready: Bool = true, serving: Bool = true, terminating: Bool = false,
        local: Bool = false, zoneHints: Set<String> = [], nodeHints: Set<String> = [], nodeName: String? = nil,
        zone: String? = nil, targetRef: String? = nil, slice: SliceReference = SliceReference(name: "")
    ) {
        self.address = address
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
        self.local = local
        self.zoneHints = zoneHints
        self.nodeHints = nodeHints
        self.nodeName = nodeName
        self.zone = zone
        self.targetRef = targetRef
        self.slice = slice
    }

    /// Upstream's `IsServing() && IsTerminating()`: usable only in the terminating fallback.
    public var isServingTerminating: Bool { serving && terminating }

    public static func < (lhs: EndpointInfo, rhs: EndpointInfo) -> Bool { lhs.address < rhs.address }
}

/// The EndpointSlice an endpoint was read from: its name, UID and `metadata.generation`.
public struct SliceReference: Hashable, Sendable, Codable, Comparable {
    public var name: String
    public var uid: String?
    public var generation: Int64?

    public init(name: String, uid: String? = nil, generation: Int64? = nil) {
        self.name = name
        self.uid = uid
        self.generation = generation
    }

    public static func < (lhs: SliceReference, rhs: SliceReference) -> Bool {
        (lhs.name, lhs.uid ?? "", lhs.generation ?? 0) < (rhs.name, rhs.uid ?? "", rhs.generation ?? 0)
    }
}
