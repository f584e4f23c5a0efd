import SettleAggregation

/// Per-node progress of a drain's wait: what each node is doing, from the aggregator's answers.
///
/// Answers name pending, unknown and excluded nodes; a node the aggregator knows (from `/v1/nodes`)
/// that an answer does not name is done (`drained`). ``update(_:)`` returns one line for each node
/// whose state changed since the last answer, so the output is a log of the drain node by node.
struct DrainProgress: Sendable {
    private(set) var states: [String: String] = [:]
    private let known: [String]

    /// `known`: every node the aggregator knows, so nodes that are done can be named.
    init(known: [String]) { self.known = known.sorted() }

    /// The lines for nodes whose state changed: `node-b: stale — shop/web:http/TCP … (terminating)`.
    mutating func update(_ answer: WaitAnswer) -> [String] {
        var now: [String: String] = [:]
        for verdict in answer.pending {
            now[verdict.node] = "\(verdict.state ?? verdict.reason.rawValue) — \(verdict.detail)"
        }
        let blocking = answer.policy.unknownNodes == .block
        for verdict in answer.unknown {
            now[verdict.node] = "unknown (\(verdict.reason.rawValue)\(blocking ? ", blocking" : ", ignored")) — \(verdict.detail)"
        }
        for verdict in answer.excluded {
            now[verdict.node] = "excluded (\(verdict.reason.rawValue)) — \(verdict.detail)"
        }
        for node in known where now[node] == nil {
            now[node] = answer.for.rawValue
        }
        var lines: [String] = []
        for (node, state) in now.sorted(by: { $0.key < $1.key }) where states[node] != state {
            lines.append("\(node): \(state)")
        }
        states = now
        return lines
    }

    /// The nodes still holding the drain up (pending, and unknown when unknown nodes block), for a timeout message.
    static func lagging(_ answer: WaitAnswer) -> [String] {
        var names = answer.pending.map { "\($0.node) (\($0.state ?? $0.reason.rawValue))" }
        if answer.policy.unknownNodes == .block {
            names += answer.unknown.map { "\($0.node) (unknown: \($0.reason.rawValue))" }
        }
        return names
    }
}
