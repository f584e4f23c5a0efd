import SettleKubeProxyRules
import SettleModel

/// One node's "kube-proxy": programs the node namespace's nftables with the rule writer, the way
/// kube-proxy's partial sync does, each change it is handed after a lag drawn for that node and
/// change.
///
/// Changes are programmed in the order they were seen (a later change never lands before an
/// earlier one), and each programming is timed with the endpoints it routed: this is the ground
/// truth the lab checks Settle against.
actor LabKubeProxy {
    /// One programming of the node's rules (wall-clock milliseconds).
    struct Programming: Sendable, Hashable {
        /// The slice's resourceVersion it came from.
        var version: String
        /// When the change reached this kube-proxy.
        var seen: Int64
        var lag: Duration
        /// `nft -f` started: the kernel had not yet changed.
        var started: Int64
        /// The `nft -f` that changed routing returned: the kernel had changed (a little earlier).
        var finished: Int64
        /// The endpoint IPs routed after it.
        var routed: Set<String>
    }

    private struct Pending {
        var version: String
        var seen: Int64
        var due: Int64
        var lag: Duration
        var ports: [ProxyServicePort]
    }

    let node: String
    let namespace: String
    private let writer: NFTablesRuleWriter
    private let lag: LagDistribution
    private var random: SplitMix64
    private var programmed: [ProxyServicePort] = []
    /// The last ports handed over: a change that leaves them as they are is no change for this node.
    private var latest: [ProxyServicePort] = []
    private var queue: [Pending] = []
    private var lastDue: Int64 = 0
    private var worker: Task<Void, Never>?
    private(set) var history: [Programming] = []
    private(set) var failure: String?

    init(node: String, namespace: String, nodeIP: String, lag: LagDistribution, seed: UInt64) {
        self.node = node
        self.namespace = namespace
        self.lag = lag
        random = SplitMix64(seed: seed)
        writer = NFTablesRuleWriter(layout: .endpointChains, nodeIPs: IPAddress(nodeIP).map { [$0] } ?? [])
    }

    /// Programs `ports` at once (the node's start-up sync).
    func programNow(_ ports: [ProxyServicePort]) async throws {
        try await LabNetwork.exec(in: namespace, "nft", ["-f", "-"], input: writer.transaction(for: ports))
        programmed = ports
        latest = ports
    }

    /// Hands over the node's whole desired state after the slice at `version`; it is programmed
    /// after this node's lag, unless it changes nothing for the node.
    func submit(version: String, ports: [ProxyServicePort]) {
        guard ports != latest else { return }
        latest = ports
        let now = LabClock.nowMilliseconds()
        let lag = lag.sample(using: &random)
        let due = max(now + lag.milliseconds, lastDue)
        lastDue = due
        queue.append(Pending(version: version, seen: now, due: due, lag: lag, ports: ports))
        if worker == nil { worker = Task { await self.drain() } }
    }

    /// Whether every change handed over has been programmed.
    var isIdle: Bool { queue.isEmpty && worker == nil }

    /// The first programming of a change seen at or after `time` that no longer routes to `ip`:
    /// when this node dropped the endpoint.
    func drop(of ip: String, seenSince time: Int64) -> Programming? {
        history.first { $0.seen >= time && !$0.routed.contains(ip) }
    }

    private func drain() async {
        while let next = queue.first {
            let wait = next.due - LabClock.nowMilliseconds()
            if wait > 0 { try? await Task.sleep(for: .milliseconds(wait)) }
            let sync = writer.partialSync(from: programmed, to: next.ports)
            let started = LabClock.nowMilliseconds()
            var finished = started
            do {
                try await LabNetwork.exec(in: namespace, "nft", ["-f", "-"], input: sync.update)
                finished = LabClock.nowMilliseconds()
                // Chains no longer jumped to go a transaction later, as in kube-proxy; routing changed above.
                if let cleanup = sync.cleanup { try await LabNetwork.exec(in: namespace, "nft", ["-f", "-"], input: cleanup) }
            } catch {
                failure = "\(node): programming the slice at resourceVersion \(next.version) failed: \(error)"
            }
            let routed = Set(next.ports.flatMap { $0.clusterEndpoints.map(\.ip.description) })
            history.append(
                Programming(version: next.version, seen: next.seen, lag: next.lag, started: started, finished: finished, routed: routed))
            programmed = next.ports
            queue.removeFirst()
        }
        worker = nil
    }
}
