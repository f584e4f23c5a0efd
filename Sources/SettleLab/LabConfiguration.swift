public import Foundation

/// What `settle lab` builds and does.
public struct LabConfiguration: Sendable {
    /// Node namespaces, each with a kube-proxy, an agent and a client.
    public var nodes = 4
    /// Pods serving the Service at any time (each deletion starts a replacement).
    public var pods = 3
    /// kube-proxy's lag on every node but the straggler, drawn per node and change.
    public var lag = LagDistribution(lower: .zero, upper: .seconds(3))
    /// The last node's fixed lag; zero for no straggler.
    public var straggler: Duration = .seconds(6)
    public var strategies: [LabStrategy] = [.none, .sleep(.seconds(5)), .settle]
    /// Deletions per strategy.
    public var deletions = 2
    /// New connections a second from each node's client.
    public var rate = 50
    /// A connection not answered within this counts as failed (timeout).
    public var connectTimeout: Duration = .seconds(1)
    /// The preStop `settle wait --timeout`.
    public var waitTimeout: Duration = .seconds(60)
    public var seed: UInt64 = 1
    /// Where the report, the chart and every process's log go.
    public var output: URL
    /// The `settle` binary the lab starts for agents, the aggregator, backends, clients and preStop hooks.
    public var settle: String

    public init(output: URL, settle: String) {
        self.output = output
        self.settle = settle
    }

    /// The problem with these settings, worded for the person who ran the lab; `nil` when there is none.
    public var problem: String? {
        if !(1...200).contains(nodes) { return "--nodes must be 1…200 (got \(nodes))" }
        if !(2...200).contains(pods) { return "--pods must be 2…200 (got \(pods)): a deletion needs another pod to move connections to" }
        if strategies.isEmpty { return "at least one --strategy is needed" }
        if deletions < 1 { return "--deletions must be at least 1" }
        if !(1...2000).contains(rate) { return "--rate must be 1…2000 connections a second (got \(rate))" }
        return nil
    }

    /// The straggler node's name, if there is one.
    var stragglerNode: String? { straggler > .zero ? "node-\(nodes)" : nil }
}
