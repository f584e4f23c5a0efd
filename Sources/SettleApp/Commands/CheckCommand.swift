import ArgumentParser
import Foundation
import SettleConvergence
import SettleDataplane
import SettleDataplaneLinux
import SettleKube
import SettleModel
import SettleSelection

/// `settle check --node NAME --from PATH [--netns NAME] [--mode …] [--format table|json] [--all]`:
/// brief §2's per-endpoint states for this node, as a one-shot doctor tool.
///
/// Computes what kube-proxy on NAME should route (as `settle desired` does, from the same files),
/// reads what this node's dataplane routes (as `settle dataplane` does) and joins them with
/// ``Convergence/evaluate(desired:routed:)``. Exit status is the answer, so scripts need not parse:
/// 0 converged, 1 not, 2 when PATH or the dataplane cannot be read (one line on stderr).
///
/// JSON (brief §6, keys sorted): `{"node", "mode", "converged", "endpoints": [{service, port,
/// protocol, ip, targetPort, state, fallback, reason, slice: {name, uid, generation} | null,
/// pod: "ns/name" | null}]}` with every endpoint, converged or not.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Compare what kube-proxy on this node should route with what its dataplane routes, per endpoint.",
        discussion: """
            Each endpoint gets one state: programmed (desired and routed), missing (desired, not \
            routed), stale (routed, not desired) or drained (neither). A programmed endpoint kept only \
            as the last serving, terminating endpoint is marked fallback. The table lists the endpoints \
            that are not converged, then a summary; --all lists every endpoint.

            Exit status: 0 when converged, 1 when not, 2 when PATH or the dataplane cannot be read.
            """
    )

    @Option(help: "The node whose kube-proxy to mirror (its Node object in PATH gives its zone).")
    var node: String

    @Option(help: "A YAML/JSON file or a directory of them: Services, EndpointSlices, Nodes (kind: List and multi-document YAML accepted).")
    var from: String

    @Option(help: "Read inside the network namespace /var/run/netns/NAME (as created by `ip netns add`).")
    var netns: String?

    @Option(help: "Which kube-proxy mode to read: auto, nftables, iptables or ipvs (virtual servers are named from the Services in PATH).")
    var mode: ModeChoice = .auto

    @Option(help: "Output format: table or json.")
    var format: OutputFormat = .table

    @Flag(help: "In the table, list converged endpoints too (JSON always lists all).")
    var all = false

    @Flag(
        inversion: .prefixedNo,
        help: "Mirror the PreferSameTrafficDistribution feature gate (node hints); on by default, as since Kubernetes 1.34.")
    var preferSameTrafficDistribution = true

    func run() async throws {
        let desired: [DesiredServicePort]
        let snapshot: DataplaneSnapshot
        let note: String?
        do {
            desired = try Self.desiredState(
                from: from, node: node,
                options: SelectionOptions(preferSameTrafficDistribution: preferSameTrafficDistribution))
            let names = IPVSServiceNames(desired.map { (name: $0.name, protocol: $0.protocol, frontends: $0.frontends) })
            let reader = try await DataplaneSelection.reader(mode: mode, netns: netns, via: .netlink, names: names)
            snapshot = try await reader.read()
            note = reader.note
        } catch let error as KubeLoadError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(2)
        } catch let error as DataplaneError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(2)
        } catch {
            // Exit status 1 means "not converged"; any other failure must not look like it.
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if let note { Terminal.note(note) }
        for warning in snapshot.warnings { Terminal.warn(warning) }
        let report = Convergence.evaluate(desired: desired, routed: snapshot)
        switch format {
        case .json:
            try Terminal.printJSON(CheckJSON(node: node, mode: snapshot.mode, report: report))
        case .table:
            print(Self.table(report, node: node, mode: snapshot.mode, all: all), terminator: "")
        }
        if !report.converged { throw ExitCode(1) }
    }

    /// Loads PATH and computes the desired state for `node`, with notes on stderr as `desired` prints them.
    static func desiredState(from path: String, node: String, options: SelectionOptions) throws(KubeLoadError)
        -> [DesiredServicePort]
    {
        let objects = try KubeObjectLoader.load(path: path)
        let topology: NodeTopology
        if let nodeObject = objects.node(named: node) {
            topology = NodeTopology(name: node, labels: nodeObject.metadata.labels ?? [:])
        } else {
            topology = NodeTopology(name: node)
            Terminal.note("no Node named \(node) in \(path): the node has no zone, so zone hints are not applied")
        }
        return DesiredState.compute(
            services: objects.services, slices: objects.endpointSlices, node: topology, options: options)
    }

    /// Divergent endpoints (or all, with `all`), then one summary line.
    static func table(_ report: ConvergenceReport, node: String, mode: DataplaneMode, all: Bool) -> String {
        // Divergent first, each group in the report's order.
        let shown = report.divergent + (all ? report.endpoints.filter(\.state.isConverged) : [])
        var out = ""
        if !shown.isEmpty {
            var rows: [[String]] = [["SERVICE PORT", "PROTO", "ENDPOINT", "STATE", "SLICE", "REASON"]]
            for status in shown {
                let slice = status.slice.map { "\($0.name)@\($0.generation.map(String.init) ?? "?")" } ?? "-"
                let state = status.fallback ? "\(status.state.rawValue) (fallback)" : status.state.rawValue
                rows.append([
                    status.servicePort.description, status.protocol.rawValue, status.address.description, state, slice,
                    status.reason.description,
                ])
            }
            out += TextTable.render(rows)
        }
        let counts = EndpointState.allCases.map { "\(report.count($0)) \($0.rawValue)" }.joined(separator: ", ")
        let fallback = report.fallbackCount > 0 ? " (\(report.fallbackCount) as fallback)" : ""
        let verdict = report.converged ? "converged" : "NOT converged"
        out += "node \(node) (\(mode.rawValue)): \(verdict): \(report.endpoints.count) endpoints: \(counts)\(fallback)\n"
        return out
    }
}

/// The `check` JSON document (brief §6), plus the dataplane mode.
struct CheckJSON: Encodable {
    var node: String
    var mode: DataplaneMode
    var converged: Bool
    var endpoints: [Endpoint]

    init(node: String, mode: DataplaneMode, report: ConvergenceReport) {
        self.node = node
        self.mode = mode
        converged = report.converged
        endpoints = report.endpoints.map(Endpoint.init)
    }

    /// One endpoint of one service port; `slice` and `pod` are written as explicit nulls when unknown.
    struct Endpoint: Encodable {
        var service: String
        var port: String
        var `protocol`: L4Protocol
        var ip: IPAddress
        var targetPort: Int
        var state: EndpointState
        var fallback: Bool
        var reason: EndpointStatus.Reason
        var slice: SliceReference?
        var pod: String?

        init(_ status: EndpointStatus) {
            service = status.servicePort.service
            port = status.servicePort.port
            `protocol` = status.protocol
            ip = status.ip
            targetPort = status.port
            state = status.state
            fallback = status.fallback
            reason = status.reason
            slice = status.slice
            pod = status.targetRef
        }

        enum CodingKeys: String, CodingKey { case service, port, `protocol`, ip, targetPort, state, fallback, reason, slice, pod }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(service, forKey: .service)
            try c.encode(port, forKey: .port)
            try c.encode(`protocol`, forKey: .protocol)
            try c.encode(ip, forKey: .ip)
            try c.encode(targetPort, forKey: .targetPort)
            try c.encode(state, forKey: .state)
            try c.encode(fallback, forKey: .fallback)
            try c.encode(reason, forKey: .reason)
            try c.encode(slice, forKey: .slice)
            try c.encode(pod, forKey: .pod)
        }
    }
}
