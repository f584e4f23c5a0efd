/// One pod deletion: when it started, when each node's kube-proxy dropped the pod, when the pod got
/// SIGTERM, and the connections that failed meanwhile. Times are wall-clock milliseconds.
public struct LabDeletion: Sendable, Hashable, Codable {
    public struct NodeDrop: Sendable, Hashable, Codable {
        public var node: String
        /// The lag drawn for this change on this node.
        public var lagMilliseconds: Int64
        /// `nft -f` started (the kernel still routed to the pod).
        public var started: Int64
        /// `nft -f` returned (the kernel no longer routed to the pod).
        public var finished: Int64
    }

    public var strategy: String
    public var pod: String
    public var ip: String
    /// The endpoint was marked terminating in its slice.
    public var deleted: Int64
    /// The pod's server got SIGTERM (stopped accepting).
    public var sigterm: Int64
    /// The exit status of `settle wait` (strategy `settle` only).
    public var waitStatus: Int32?
    public var nodes: [NodeDrop]
    /// Failed connections per node (refused, reset, timeout, error) from `deleted` to the next deletion.
    public var failures: [String: Int] = [:]
    /// All connection attempts in the same window.
    public var connections: Int = 0
    /// The failed attempts themselves (node, milliseconds after `deleted`), the first 1,000 of the window.
    public var failedAttempts: [FailedAttempt] = []

    public struct FailedAttempt: Sendable, Hashable, Codable {
        public var node: String
        public var offset: Int64
        public var result: LabConnectionResult
    }

    /// Milliseconds from deletion to SIGTERM.
    public var delay: Int64 { sigterm - deleted }
    /// Milliseconds from deletion until the slowest node had dropped the pod.
    public var slowest: Int64 { (nodes.map(\.finished).max() ?? deleted) - deleted }
    /// SIGTERM came before some node had even started to drop the pod: that node could still send
    /// new connections to a pod that no longer accepted them. For strategy `settle` this is an
    /// early `drained` answer, which must never happen.
    public var early: Bool { nodes.contains { $0.started > sigterm } }
    public var failed: Int { failures.values.reduce(0, +) }
}

/// The lab's results per strategy.
public struct LabStrategySummary: Sendable, Hashable, Codable {
    public var strategy: String
    public var deletions: Int
    public var connections: Int
    public var failed: Int
    public var failedByNode: [String: Int]
    public var delayP50: Int64
    public var delayMax: Int64
    public var slowestMax: Int64
    /// SIGTERM minus the slowest node's drop, worst case (how much later than needed).
    public var overheadMax: Int64
    /// Deletions whose SIGTERM came before a node had started dropping the pod.
    public var early: Int

    init(strategy: String, deletions: [LabDeletion]) {
        self.strategy = strategy
        self.deletions = deletions.count
        connections = deletions.map(\.connections).reduce(0, +)
        failed = deletions.map(\.failed).reduce(0, +)
        failedByNode = deletions.reduce(into: [:]) { sums, deletion in sums.merge(deletion.failures, uniquingKeysWith: +) }
        let delays = deletions.map(\.delay).sorted()
        delayP50 = LabStatistics.percentile(delays, 0.5)
        delayMax = delays.last ?? 0
        slowestMax = deletions.map(\.slowest).max() ?? 0
        overheadMax = deletions.map { $0.delay - $0.slowest }.max() ?? 0
        early = deletions.filter(\.early).count
    }
}

/// Everything one lab run measured.
public struct LabReport: Sendable, Hashable, Codable {
    public var nodes: [String]
    public var straggler: String?
    public var lag: String
    public var ratePerNode: Int
    public var deletions: [LabDeletion]
    public var strategies: [LabStrategySummary]
    /// Failed connections outside every deletion's window (before the first deletion): the lab's
    /// network itself failing. Should be zero.
    public var failedOutside: Int

    public init(nodes: [String], straggler: String?, lag: String, ratePerNode: Int, deletions: [LabDeletion], failedOutside: Int) {
        self.nodes = nodes
        self.straggler = straggler
        self.lag = lag
        self.ratePerNode = ratePerNode
        self.deletions = deletions
        self.failedOutside = failedOutside
        var order: [String] = []
        for deletion in deletions where !order.contains(deletion.strategy) { order.append(deletion.strategy) }
        strategies = order.map { strategy in LabStrategySummary(strategy: strategy, deletions: deletions.filter { $0.strategy == strategy }) }
    }

    /// The report as a Markdown table, one row per strategy.
    public var markdown: String {
        var lines = [
            "| strategy | deletions | connections | failed | failed by node | delay p50 | delay max | slowest node max | SIGTERM before a node dropped it |",
            "|---|---:|---:|---:|---|---:|---:|---:|---:|",
        ]
        for s in strategies {
            let byNode = nodes.map { "\($0): \(s.failedByNode[$0] ?? 0)" }.joined(separator: ", ")
            lines.append(
                "| `\(s.strategy)` | \(s.deletions) | \(s.connections) | \(s.failed) | \(byNode) | \(LabStatistics.seconds(s.delayP50)) | \(LabStatistics.seconds(s.delayMax)) | \(LabStatistics.seconds(s.slowestMax)) | \(s.early) |"
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Attributes the clients' connection attempts to deletions.
public enum LabAttribution {
    /// One connection attempt from a node's client.
    public struct Attempt: Sendable, Hashable {
        public var node: String
        public var started: Int64
        public var result: LabConnectionResult
        public init(node: String, started: Int64, result: LabConnectionResult) {
            self.node = node
            self.started = started
            self.result = result
        }

        /// Parses one client line, `START_MS RESULT BACKEND`; `nil` for anything else.
        public init?(node: String, line: Substring) {
            let fields = line.split(separator: " ")
            guard fields.count == 3, let started = Int64(fields[0]), let result = LabConnectionResult(rawValue: String(fields[1])) else { return nil }
            self.init(node: node, started: started, result: result)
        }
    }

    /// Fills each deletion's `connections` and `failures` with the attempts started in its window
    /// (from its deletion to the next one's, the last one open-ended); returns the failures before the first.
    public static func attribute(_ attempts: [Attempt], to deletions: inout [LabDeletion]) -> Int {
        let starts = deletions.map(\.deleted)
        var outside = 0
        for attempt in attempts {
            // The last deletion that started at or before the attempt.
            var low = 0
            var high = starts.count
            while low < high {
                let mid = (low + high) / 2
                if starts[mid] <= attempt.started { low = mid + 1 } else { high = mid }
            }
            guard low > 0 else {
                if attempt.result != .ok { outside += 1 }
                continue
            }
            deletions[low - 1].connections += 1
            guard attempt.result != .ok else { continue }
            deletions[low - 1].failures[attempt.node, default: 0] += 1
            if deletions[low - 1].failedAttempts.count < 1000 {
                deletions[low - 1].failedAttempts.append(
                    .init(node: attempt.node, offset: attempt.started - deletions[low - 1].deleted, result: attempt.result))
            }
        }
        return outside
    }
}

public enum LabStatistics {
    /// The nearest-rank percentile of sorted `values` (0 when empty).
    static func percentile(_ sorted: [Int64], _ fraction: Double) -> Int64 {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((fraction * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    /// `6.07 s` (milliseconds, rounded half up to hundredths).
    public static func seconds(_ milliseconds: Int64) -> String {
        let sign = milliseconds < 0 ? "-" : ""
        let value = abs(milliseconds)
        let hundredths = (value + 5) / 10
        return "\(sign)\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100) s"
    }
}
