public import ArgumentParser
import Foundation
import SettleKube
import SettleModel
import SettleSelection

/// `settle desired --node NAME --from PATH [--format table|json]`: what kube-proxy on NAME should
/// route, computed from Kubernetes objects in files.
///
/// PATH is a file or a directory of YAML/JSON (what `kubectl get services,endpointslices,nodes -A
/// -o yaml` prints). The node's labels (its zone, for topology hints) come from the Node object
/// named NAME in PATH; without one the node has no zone, and a note says so on stderr.
///
/// JSON output: `{"node": NAME, "servicePorts": [...]}`, where each service port has the shape
/// of `settle dataplane`'s (brief §6: `service`, `port`, `protocol`, `frontends`, `endpoints`), so
/// the two can be compared directly; `node` takes the place of `mode`. Keys are sorted.
/// Exit status: 0 on success, 2 when PATH cannot be read or parsed (one line on stderr).
public struct DesiredCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "desired",
        abstract: "Show what kube-proxy on a node should route, computed from Kubernetes objects in files.",
        discussion: """
            Mirrors kube-proxy's endpoint selection: label selector, traffic policies, topology hints, \
            and the fallback to serving-and-terminating endpoints when none is ready (such endpoints \
            are marked "fallback" in the table).

            Exit status: 0 on success, 2 when PATH cannot be read or parsed.
            """
    )

    @Option(help: "The node whose kube-proxy to mirror (its Node object in PATH gives its zone).")
    var node: String

    @Option(help: "A YAML/JSON file or a directory of them: Services, EndpointSlices, Nodes (kind: List and multi-document YAML accepted).")
    var from: String

    @Option(help: "Output format: table or json.")
    var format: OutputFormat = .table

    @Flag(
        inversion: .prefixedNo,
        help: "Mirror the PreferSameTrafficDistribution feature gate (node hints); on by default, as since Kubernetes 1.34.")
    var preferSameTrafficDistribution = true

    public init() {}

    public func run() async throws {
        let result: Rendered
        do {
            result = try Self.render(
                from: from, node: node, format: format,
                options: SelectionOptions(preferSameTrafficDistribution: preferSameTrafficDistribution))
        } catch {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
        for note in result.notes { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
        FileHandle.standardOutput.write(Data(result.output.utf8))
    }

    /// What the command prints: `output` on stdout, each note on stderr.
    struct Rendered: Sendable {
        var output: String
        var notes: [String]
    }

    /// Loads PATH, computes the selection for `node` and renders it. Pure apart from reading PATH.
    static func render(
        from path: String, node: String, format: OutputFormat, options: SelectionOptions = SelectionOptions()
    ) throws(KubeLoadError) -> Rendered {
        let objects = try KubeObjectLoader.load(path: path)
        var notes: [String] = []
        let topology: NodeTopology
        if let nodeObject = objects.node(named: node) {
            topology = NodeTopology(name: node, labels: nodeObject.metadata.labels ?? [:])
        } else {
            topology = NodeTopology(name: node)
            notes.append("no Node named \(node) in \(path): the node has no zone, so zone hints are not applied")
        }
        if objects.ignoredCount > 0 {
            let kinds = objects.ignored.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            notes.append("ignored \(objects.ignoredCount) objects of other kinds (\(kinds))")
        }
        let ports = DesiredState.compute(
            services: objects.services, slices: objects.endpointSlices, node: topology, options: options)
        switch format {
        case .json:
            let document = DesiredJSON(node: node, servicePorts: ports.map(\.routed))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = (try? encoder.encode(document)) ?? Data()
            return Rendered(output: String(decoding: data, as: UTF8.self) + "\n", notes: notes)
        case .table:
            return Rendered(output: Self.table(ports, node: topology), notes: notes)
        }
    }

    /// One line per service port: name, protocol, frontends, endpoints (fallback ones marked).
    static func table(_ ports: [DesiredServicePort], node: NodeTopology) -> String {
        var rows: [[String]] = [["SERVICE PORT", "PROTO", "FRONTENDS", "ENDPOINTS"]]
        for port in ports {
            let frontends = port.frontends.map(\.description).joined(separator: ", ")
            let endpoints: String
            if port.endpoints.isEmpty {
                endpoints = port.rejects ? "(none: reject)" : "(none on this node: drop)"
            } else {
                endpoints = port.endpoints.map { $0.fallback ? "\($0.address) (fallback)" : $0.address.description }
                    .joined(separator: " ")
            }
            rows.append([port.name.description, port.protocol.rawValue, frontends, endpoints])
        }
        let zone = node.zone.isEmpty ? "none" : node.zone
        return "node: \(node.name), zone: \(zone), \(ports.count) service ports\n" + TextTable.render(rows)
    }
}

/// The `desired` JSON document: the node and its service ports in the `dataplane` shape.
struct DesiredJSON: Encodable {
    var node: String
    var servicePorts: [RoutedServicePort]
}
