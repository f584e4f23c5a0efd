public import Foundation

/// What the HTTP server asks the agent: is it ready, and what does its state look like.
///
/// The agent actor conforms; tests use a stand-in. Both calls must be cheap (they answer probes).
public protocol AgentStateProvider: Sendable {
    /// `/readyz`: whether the agent's acks mean something yet, and if not, why.
    func readiness() async -> AgentReadiness
    /// `/v1/state`: the agent's state for people.
    func state() async -> AgentStateDocument
}

/// The answer of `/readyz`.
public struct AgentReadiness: Hashable, Sendable, Codable {
    public var ready: Bool
    /// Why the agent is not ready (one sentence); `nil` when ready.
    public var reason: String?

    public init(ready: Bool, reason: String? = nil) {
        self.ready = ready
        self.reason = reason
    }

    public static let ready = AgentReadiness(ready: true)
    public static func notReady(_ reason: String) -> AgentReadiness { AgentReadiness(ready: false, reason: reason) }
}

/// The body of `/v1/state`: one node's agent, for people and scripts.
public struct AgentStateDocument: Hashable, Sendable, Codable {
    /// The last dataplane read.
    public struct LastRead: Hashable, Sendable, Codable {
        /// `full` or `incremental`.
        public var kind: String
        /// When the read finished.
        public var at: Date
        public var durationSeconds: Double

        public init(kind: String, at: Date, durationSeconds: Double) {
            self.kind = kind
            self.at = at
            self.durationSeconds = durationSeconds
        }
    }

    /// Where the ack stream is (filled in by the server from its ``AckHub``).
    public struct AckStream: Hashable, Sendable, Codable {
        public var epoch: String
        public var seq: UInt64
        public var clients: Int

        public init(epoch: String, seq: UInt64, clients: Int) {
            self.epoch = epoch
            self.seq = seq
            self.clients = clients
        }
    }

    public var node: String
    /// The dataplane mode read (`nftables`, `iptables`, `ipvs`); `nil` before the first read.
    public var mode: String?
    public var ready: Bool
    /// Why the agent is not ready; `nil` when ready.
    public var reason: String?
    /// The EndpointSlice watch's last seen resourceVersion.
    public var watch: String?
    public var lastRead: LastRead?
    /// Endpoints of this node's service ports per state (`programmed`, `missing`, `stale`, `drained`).
    public var endpoints: [String: Int]
    /// Endpoints in transition (the ack journal's current acks).
    public var inTransition: Int
    /// Every endpoint that is `missing` or `stale` now, sorted.
    public var notConverged: [Ack]
    public var ackStream: AckStream?

    public init(
        node: String, mode: String? = nil, ready: Bool, reason: String? = nil, watch: String? = nil,
        lastRead: LastRead? = nil, endpoints: [String: Int] = [:], inTransition: Int = 0, notConverged: [Ack] = [],
        ackStream: AckStream? = nil
    ) {
        self.node = node
        self.mode = mode
        self.ready = ready
        self.reason = reason
        self.watch = watch
        self.lastRead = lastRead
        self.endpoints = endpoints
        self.inTransition = inTransition
        self.notConverged = notConverged
        self.ackStream = ackStream
    }
}
