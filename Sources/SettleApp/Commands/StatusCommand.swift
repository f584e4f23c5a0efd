import ArgumentParser
import Foundation
import SettleAcks
import SettleAggregation

/// `settle status` (and `kubectl settle status`): every node's agent health, from the aggregator.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Shows every node's agent as the aggregator sees it (connected, mode, lag), or one Service's convergence per node.",
        discussion: """
            One row per node from the aggregator's GET /v1/nodes:
              STATUS         healthy, unknown (agent unreachable, silent or not ready) or excluded (by policy)
              MODE           the dataplane mode the node's agent reads (nftables, iptables)
              CONNECTED      whether the aggregator's stream to the agent is open
              LAG            age of the oldest endpoint the node has not converged on
              NOT CONVERGED  endpoints in transition that are still stale or missing on the node
              REASON         why the node is unknown or excluded

            With --service NAMESPACE/NAME, one row per node from GET /v1/services/{namespace}/{name}:
              STATUS         converged, pending, unknown or excluded
              LAG            age of the oldest endpoint of the Service the node has not converged on
              NOT CONVERGED  those endpoints: ip:port/protocol state (reason)

            Outside the cluster, run it as the kubectl plugin (`kubectl settle status`), which asks through \
            the API server (--aggregator kube://settle-system/settle-aggregator:9468, kubeconfig credentials), \
            or forward the aggregator:
              kubectl -n settle-system port-forward svc/settle-aggregator 9468
              settle status --aggregator http://127.0.0.1:9468
            Exit status 0, or 2 when the aggregator cannot be asked.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json
    }

    @Option(help: "Output format: table or json (the aggregator's answer as is).")
    var format: Format = .table

    @Option(help: ArgumentHelp("Show this Service's convergence node by node instead of the nodes' health.", valueName: "namespace/name"))
    var service: String?

    @Option(help: "The aggregator's URL. (default: $SETTLE_AGGREGATOR, else \(AggregatorClient.defaultURL))")
    var aggregator: String?

    @Option(help: "How long to wait for the answer.")
    var timeout = DurationArgument("10s")

    func validate() throws {
        if let service, WaitSubject.pod(service) == nil { throw ValidationError("--service must be NAMESPACE/NAME, got \"\(service)\"") }
    }

    func run() async throws {
        let client: AggregatorClient
        do {
            client = try AggregatorClient(url: AggregatorClient.url(flag: aggregator))
        } catch {
            throw Terminal.failure("\(error)")
        }
        do {
            if let service, case .pod(let namespace, let name) = WaitSubject.pod(service) {
                let answer = try await client.service(namespace: namespace, name: name, timeout: timeout.duration)
                try print(answer, table: Self.table)
            } else {
                let answer = try await client.nodes(timeout: timeout.duration)
                try print(answer, table: Self.table)
            }
            await client.shutdown()
        } catch let error as AggregatorFailure {
            await client.shutdown()
            throw Terminal.failure("aggregator at \(client.baseURL): \(error)")
        }
    }

    private func print<Answer: Encodable>(_ answer: Answer, table: (Answer) -> String) throws {
        switch format {
        case .table:
            FileHandle.standardOutput.write(Data(table(answer).utf8))
        case .json:
            let encoder = AckWire.encoder
            encoder.outputFormatting.insert(.prettyPrinted)
            var data = try encoder.encode(answer)
            data.append(UInt8(ascii: "\n"))
            FileHandle.standardOutput.write(data)
        }
    }

    /// The per-node table of one Service, with its summary line.
    static func table(_ answer: ServiceAnswer) -> String {
        var rows: [[String]] = [["NODE", "STATUS", "LAG", "NOT CONVERGED", "REASON"]]
        for node in answer.nodes.sorted(by: { $0.node < $1.node }) {
            let shown = node.notConverged.prefix(3).joined(separator: ", ") + (node.notConverged.count > 3 ? ", …" : "")
            rows.append([
                node.node, node.status, node.lagSeconds.map { WaitReport.format(.milliseconds(Int64(($0 * 1000).rounded()))) } ?? "-",
                node.notConverged.isEmpty ? "-" : "\(node.notConverged.count): \(shown)", node.reason?.rawValue ?? "-",
            ])
        }
        return "\(answer.service): \(answer.summary)\n" + TextTable.render(rows)
    }

    /// The node table, with a header line of counts and policy.
    static func table(_ answer: NodesAnswer) -> String {
        var rows: [[String]] = [["NODE", "STATUS", "MODE", "CONNECTED", "LAG", "NOT CONVERGED", "REASON"]]
        for node in answer.nodes.sorted(by: { $0.node < $1.node }) {
            let reason = [node.reason?.rawValue, node.detail].compactMap { $0 }.joined(separator: ": ")
            rows.append([
                node.node, node.status, node.mode ?? "-", node.connected ? "yes" : "no",
                node.lagSeconds.map { WaitReport.format(.milliseconds(Int64(($0 * 1000).rounded()))) } ?? "-",
                String(node.notConverged), reason.isEmpty ? "-" : reason,
            ])
        }
        let counts = answer.counts
        var out = "\(counts.total) nodes: \(counts.healthy) healthy, \(counts.unknown) unknown, \(counts.excluded) excluded"
        out += "; unknown nodes \(answer.policy.unknownNodes == .block ? "block waits" : "do not block waits")"
        if let watch = answer.watch { out += "; EndpointSlices at resourceVersion \(watch)" }
        return out + "\n" + TextTable.render(rows)
    }
}
