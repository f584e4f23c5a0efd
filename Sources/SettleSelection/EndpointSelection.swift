import SettleModel

/// kube-proxy's endpoint selection, as pure functions.
///
/// Mirrors KK `pkg/proxy/topology.go` (`CategorizeEndpoints`, `topologyModeFromHints`,
/// `availableForTopology`). Unlike upstream, the `PreferSameTrafficDistribution` feature gate is an
/// argument (``SelectionOptions``), not a global.
public enum EndpointSelection {
    /// Splits the endpoints of one service port into the cluster and local sets kube-proxy programs
    /// on `node`.
    ///
    /// - Cluster (if ``ServicePortInfo/usesClusterEndpoints``): ready endpoints, filtered by the
    ///   topology mode from hints; if none, every serving-and-terminating endpoint (topology ignored).
    /// - Local (if ``ServicePortInfo/usesLocalEndpoints``): local ready endpoints; else local
    ///   serving-and-terminating ones; else none.
    /// - `hasAnyEndpoints`: cluster non-empty, or (when local endpoints are used) any ready or
    ///   serving-terminating endpoint anywhere.
    public static func categorize(
        _ endpoints: [EndpointInfo], servicePort: ServicePortInfo, node: NodeTopology,
        options: SelectionOptions = SelectionOptions()
    ) -> CategorizedEndpoints {
        var result = CategorizedEndpoints()
        if endpoints.isEmpty { return result }
        let zone = node.zone

        if servicePort.usesClusterEndpoints {
            let mode = topologyMode(endpoints, node: node, options: options)
            result.topologyMode = mode
            var cluster = endpoints.filter { $0.ready && availableForTopology($0, mode: mode, node: node.name, zone: zone) }
            if cluster.isEmpty {
                cluster = endpoints.filter(\.isServingTerminating)
                result.clusterFallback = !cluster.isEmpty
            }
            if !cluster.isEmpty { result.hasAnyEndpoints = true }
            result.cluster = cluster
        }

        guard servicePort.usesLocalEndpoints else {
            result.allReachable = (result.cluster ?? []).sorted()
            return result
        }

        var hasLocalReady = false
        var hasLocalServingTerminating = false
        for endpoint in endpoints {
            if endpoint.ready {
                result.hasAnyEndpoints = true
                if endpoint.local { hasLocalReady = true }
            } else if endpoint.isServingTerminating {
                result.hasAnyEndpoints = true
                if endpoint.local { hasLocalServingTerminating = true }
            }
        }
        if hasLocalReady {
            result.local = endpoints.filter { $0.local && $0.ready }
        } else if hasLocalServingTerminating {
            result.localFallback = true
            result.local = endpoints.filter { $0.local && $0.isServingTerminating }
        }

        var union: [EndpointAddress: EndpointInfo] = [:]
        for endpoint in (result.cluster ?? []) + (result.local ?? []) { union[endpoint.address] = endpoint }
        result.allReachable = union.values.sorted()
        return result
    }

    /// Upstream `topologyModeFromHints`: judged over **ready** endpoints only.
    ///
    /// `PreferSameNode` when the gate is on, every ready endpoint has a node hint and one names this
    /// node; else `PreferSameZone` when every ready endpoint has a zone hint and one names this
    /// node's zone; else ``TopologyMode/none``. No ready endpoint: ``TopologyMode/none``.
    public static func topologyMode(
        _ endpoints: [EndpointInfo], node: NodeTopology, options: SelectionOptions = SelectionOptions()
    ) -> TopologyMode {
        let ready = endpoints.filter(\.ready)
        if ready.isEmpty { return .none }
        if options.preferSameTrafficDistribution, ready.allSatisfy({ !$0.nodeHints.isEmpty }),
            ready.contains(where: { $0.nodeHints.contains(node.name) })
        {
            return .preferSameNode
        }
        if ready.allSatisfy({ !$0.zoneHints.isEmpty }), ready.contains(where: { $0.zoneHints.contains(node.zone) }) {
            return .preferSameZone
        }
        return .none
    }

    /// Upstream `availableForTopology`.
    static func availableForTopology(_ endpoint: EndpointInfo, mode: TopologyMode, node: String, zone: String) -> Bool {
        switch mode {
        case .none: true
        case .preferSameNode: endpoint.nodeHints.contains(node)
        case .preferSameZone: endpoint.zoneHints.contains(zone)
        }
    }
}
