import SettleKubeProxyRules
import SettleModel

/// One node's "kube-proxy": programs the node namespace's nftables with the rule writer, the way
/// kube-proxy's partial sync does, each change after a lag drawn for that node and change.
///
/// Changes are programmed in the order they were made (a later change never lands before an
/// earlier one), and each programming is timed: this is the ground truth the lab checks Settle
/// against.
actor LabKubeProxy {
    /// When one change was programmed on this node (wall-clock milliseconds).
    struct Programming: Sendable, Hashable {
        var change: Int
        var lag: Duration
        /// `nft -f` started: the kernel had not yet changed.
        var started: Int64
        /// The `nft -f` that changed routing returned: the kernel had changed (a little earlier).
        var finished: Int64
    }

    let node: String
    let namespace: String
    private let writer: NFTablesRuleWriter
    private let lag: LagDistribution
    private var random: SplitMix64
    private var programmed: [ProxyServicePort] = []
    private var queue: [(change: Int, due: Int64, lag: Duration, ports: [ProxyServicePort])] = []
    private var lastDue: Int64 = 0
    private var worker: Task<Void, Never>?
    private(set) var history: [Int: Programming] = [:]
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
    }

    /// Queues change `change` (the whole desired state for the node after it), programmed after this node's lag.
    func submit(change: Int, ports: [ProxyServicePort]) {
        let lag = lag.sample(using: &random)
        let due = max(LabClock.nowMilliseconds() + lag.milliseconds, lastDue)
        lastDue = due
        queue.append((change, due, lag, ports))
        if worker == nil { worker = Task { await self.drain() } }
    }

    /// Whether every submitted change has been programmed.
    var isIdle: Bool { queue.isEmpty && worker == nil }

    func programming(of change: Int) -> Programming? { history[change] }

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
                failure = "\(node): programming change \(next.change) failed: \(error)"
            }
            history[next.change] = Programming(change: next.change, lag: next.lag, started: started, finished: finished)
            programmed = next.ports
            queue.removeFirst()
        }
        worker = nil
    }
}
