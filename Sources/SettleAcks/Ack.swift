public import Foundation
public import SettleConvergence
public import SettleModel
public import SettleSelection

/// What a delta's `change` field says: how an endpoint's desired verdict changed
/// (`added`, `removed`, `tombstone`, `fallback`, `divergent`; see ``TrackedEndpoint/Change``).
public typealias AckChange = TrackedEndpoint<ContinuousClock.Instant>.Change

/// The identity of one endpoint of one service port on the wire: what an `expired` entry lists and
/// what keys the journal's current acks.
///
/// Spelled like `settle check --format json` (`service`, `port`, `protocol`, `ip`, `targetPort`) so a
/// reader can join the two outputs.
public struct AckKey: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    /// `namespace/name` of the Service.
    public var service: String
    /// The Service port's name; empty for an unnamed port.
    public var port: String
    public var `protocol`: L4Protocol
    public var ip: IPAddress
    /// The endpoint's port (the DNAT target's port).
    public var targetPort: Int

    public init(service: String, port: String, protocol: L4Protocol, ip: IPAddress, targetPort: Int) {
        self.service = service
        self.port = port
        self.protocol = `protocol`
        self.ip = ip
        self.targetPort = targetPort
    }

    /// The wire key of a convergence key.
    public init(_ key: EndpointStatus.Key) {
        self.init(
            service: key.servicePort.service, port: key.servicePort.port, protocol: key.protocol,
            ip: key.address.ip, targetPort: key.address.port)
    }

    /// The convergence key this wire key names; `nil` when `service` is not `namespace/name`.
    public var endpointKey: EndpointStatus.Key? {
        guard let slash = service.firstIndex(of: "/") else { return nil }
        let servicePort = ServicePortName(
            namespace: String(service[..<slash]), name: String(service[service.index(after: slash)...]), port: port)
        return EndpointStatus.Key(
            servicePort: servicePort, protocol: `protocol`, address: EndpointAddress(ip: ip, port: targetPort))
    }

    /// `ns/name:port/TCP 10.0.0.1:80`, like ``EndpointStatus/Key``.
    public var description: String {
        let name = port.isEmpty ? service : "\(service):\(port)"
        return "\(name)/\(`protocol`.rawValue) \(EndpointAddress(ip: ip, port: targetPort))"
    }

    public static func < (lhs: AckKey, rhs: AckKey) -> Bool {
        (lhs.service, lhs.port, lhs.protocol, lhs.ip, lhs.targetPort)
            < (rhs.service, rhs.port, rhs.protocol, rhs.ip, rhs.targetPort)
    }
}

/// One node's acknowledgement of one endpoint in transition: its state on this node, why, the slice
/// generation the verdict was computed from (brief §2, freshness), and when it changed/converged.
///
/// Times are wall-clock instants, RFC 3339 in UTC with milliseconds on the wire
/// (`2026-11-27T17:10:12.345Z`), so an aggregator can compare them with its own clock.
public struct Ack: Hashable, Sendable, Codable, Comparable {
    public var service: String
    public var port: String
    public var `protocol`: L4Protocol
    public var ip: IPAddress
    public var targetPort: Int
    public var state: EndpointState
    public var fallback: Bool
    public var reason: EndpointStatus.Reason
    /// The EndpointSlice (name, UID, `metadata.generation`) the verdict was computed from; `nil`
    /// for a routed endpoint that no slice lists.
    public var slice: SliceReference?
    /// `namespace/name` of the endpoint's Pod, when the slice names it.
    public var targetRef: String?
    public var change: AckChange
    /// When the change (or divergence) was first observed.
    public var since: Date
    /// When the endpoint last became converged; `nil` while `missing` or `stale`.
    public var convergedAt: Date?

    public init(
        key: AckKey, state: EndpointState, fallback: Bool = false, reason: EndpointStatus.Reason,
        slice: SliceReference? = nil, targetRef: String? = nil, change: AckChange, since: Date, convergedAt: Date? = nil
    ) {
        self.service = key.service
        self.port = key.port
        self.protocol = key.protocol
        self.ip = key.ip
        self.targetPort = key.targetPort
        self.state = state
        self.fallback = fallback
        self.reason = reason
        self.slice = slice
        self.targetRef = targetRef
        self.change = change
        self.since = since
        self.convergedAt = convergedAt
    }

    /// The ack of one status, with its tracker's change and wall-clock times.
    public init(status: EndpointStatus, change: AckChange, since: Date, convergedAt: Date? = nil) {
        self.init(
            key: AckKey(status.key), state: status.state, fallback: status.fallback, reason: status.reason,
            slice: status.slice, targetRef: status.targetRef, change: change, since: since, convergedAt: convergedAt)
    }

    /// The ack of one tracked endpoint; `wallTime` maps the tracker's instants to wall-clock dates.
    public init<Instant: InstantProtocol>(_ tracked: TrackedEndpoint<Instant>, wallTime: (Instant) -> Date) {
        self.init(
            status: tracked.status, change: AckChange(rawValue: tracked.change.rawValue) ?? .divergent,
            since: wallTime(tracked.since), convergedAt: tracked.convergedAt.map(wallTime))
    }

    public var key: AckKey {
        AckKey(service: service, port: port, protocol: `protocol`, ip: ip, targetPort: targetPort)
    }

    public static func < (lhs: Ack, rhs: Ack) -> Bool { lhs.key < rhs.key }

    private enum CodingKeys: String, CodingKey {
        case service, port, `protocol`, ip, targetPort, state, fallback, reason, slice, targetRef, change, since,
            convergedAt
    }

    /// Writes every field, `null` included, so the wire format is the same for every ack.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(service, forKey: .service)
        try container.encode(port, forKey: .port)
        try container.encode(`protocol`, forKey: .protocol)
        try container.encode(ip, forKey: .ip)
        try container.encode(targetPort, forKey: .targetPort)
        try container.encode(state, forKey: .state)
        try container.encode(fallback, forKey: .fallback)
        try container.encode(reason, forKey: .reason)
        try container.encode(slice, forKey: .slice)
        try container.encode(targetRef, forKey: .targetRef)
        try container.encode(change, forKey: .change)
        try container.encode(since, forKey: .since)
        try container.encode(convergedAt, forKey: .convergedAt)
    }
}

extension Ack {
    /// Maps instants of the continuous clock to wall-clock dates by their distance from now:
    /// what the agent uses for its tracker's ``TrackedEndpoint/since`` and ``TrackedEndpoint/convergedAt``.
    public static func wallTime(
        now: ContinuousClock.Instant = .now, date: Date = Date()
    ) -> @Sendable (ContinuousClock.Instant) -> Date {
        { instant in
            let offset = now - instant
            let seconds = Double(offset.components.seconds) + Double(offset.components.attoseconds) / 1e18
            return date.addingTimeInterval(-seconds)
        }
    }
}
