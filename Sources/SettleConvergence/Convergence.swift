public import SettleModel
public import SettleSelection

/// Joins what kube-proxy should route on a node with what its dataplane routes: brief §2.
public enum Convergence {
    /// Every endpoint's state on the node whose desired state and dataplane are given.
    ///
    /// Service ports are joined on their identity (`namespace/name:portName` and protocol); all IP
    /// families of a service port are one set on both sides, so dual stack needs nothing special.
    /// Within a service port, every endpoint address that is desired, routed or listed in a slice
    /// but not selected gets exactly one status:
    /// - desired (selected in the cluster or local set): `programmed` when routed, else `missing`;
    ///   `fallback` on a `programmed` endpoint selected only through the serving-terminating fallback;
    /// - listed but not selected: `stale` when routed, else `drained` (the preStop answer);
    /// - routed but listed nowhere (removed from its slice) or under a service port the desired
    ///   state does not know: `stale`.
    ///
    /// A routed service port the dataplane could not name (raw IPVS) cannot be joined; its endpoints
    /// are reported `stale` under the service port `?/?` with reason ``EndpointStatus/Reason/unknownServicePort``,
    /// so nothing is silently dropped. Service ports that reject (no endpoints) contribute nothing.
    public static func evaluate(desired: [DesiredServicePort], routed: DataplaneSnapshot) -> ConvergenceReport {
        var routedByKey: [ServicePortKey: Set<EndpointAddress>] = [:]
        var unnamed: [(protocol: L4Protocol, endpoints: [EndpointAddress])] = []
        for port in routed.servicePorts {
            if let name = port.name {
                routedByKey[ServicePortKey(name: name, protocol: port.protocol), default: []].formUnion(port.endpoints)
            } else {
                unnamed.append((port.protocol, port.endpoints))
            }
        }

        // The same service port listed twice (it should not be) is joined, as on the routed side.
        var desiredByKey: [ServicePortKey: (endpoints: [DesiredEndpoint], excluded: [DesiredEndpoint])] = [:]
        for port in desired {
            desiredByKey[port.key, default: ([], [])].endpoints += port.endpoints
            desiredByKey[port.key, default: ([], [])].excluded += port.excluded
        }

        var statuses: [EndpointStatus] = []
        for (key, entry) in desiredByKey {
            statuses += evaluate(key: key, desired: entry.endpoints, excluded: entry.excluded, routed: routedByKey[key])
        }
        for (key, addresses) in routedByKey where desiredByKey[key] == nil {
            statuses += unknown(key: key, routed: addresses)
        }
        let anonymous = ServicePortName(namespace: "?", name: "?", port: "")
        for port in unnamed {
            statuses += unknown(key: ServicePortKey(name: anonymous, protocol: port.protocol), routed: Set(port.endpoints))
        }
        return ConvergenceReport(endpoints: statuses)
    }

    /// The statuses of routed endpoints under a service port the desired state does not know (or
    /// the dataplane could not name): all `stale`, reason ``EndpointStatus/Reason/unknownServicePort``.
    static func unknown(key: ServicePortKey, routed: some Sequence<EndpointAddress>) -> [EndpointStatus] {
        routed.map {
            EndpointStatus(
                servicePort: key.name, protocol: key.protocol, ip: $0.ip, port: $0.port, state: .stale,
                reason: .unknownServicePort)
        }
    }

    /// The statuses of one service port the desired state knows. `routed` is `nil` when the
    /// dataplane has no such service port.
    static func evaluate(
        key: ServicePortKey, desired: [DesiredEndpoint], excluded: [DesiredEndpoint], routed: Set<EndpointAddress>?
    ) -> [EndpointStatus] {
        // An address is desired when any listing selects it (the selection already merges
        // duplicates across slices; this keeps the answer to one status per address regardless).
        var selected: [EndpointAddress: DesiredEndpoint] = [:]
        for endpoint in desired {
            if let existing = selected[endpoint.address], !existing.fallback || endpoint.fallback { continue }
            selected[endpoint.address] = endpoint
        }
        var notSelected: [EndpointAddress: DesiredEndpoint] = [:]
        for endpoint in excluded where selected[endpoint.address] == nil {
            if let existing = notSelected[endpoint.address], existing.slice >= endpoint.slice { continue }
            notSelected[endpoint.address] = endpoint
        }
        let routedHere = routed ?? []
        var statuses: [EndpointStatus] = []
        for (address, endpoint) in selected {
            let isRouted = routedHere.contains(address)
            let reason: EndpointStatus.Reason =
                isRouted ? .desiredAndRouted : (routed == nil ? .servicePortNotInDataplane : .notRouted)
            statuses.append(
                EndpointStatus(
                    servicePort: key.name, protocol: key.protocol, ip: address.ip, port: address.port,
                    state: EndpointState(desired: true, routed: isRouted), fallback: isRouted && endpoint.fallback,
                    slice: endpoint.slice, targetRef: endpoint.targetRef, reason: reason))
        }
        for (address, endpoint) in notSelected {
            statuses.append(
                EndpointStatus(
                    servicePort: key.name, protocol: key.protocol, ip: address.ip, port: address.port,
                    state: EndpointState(desired: false, routed: routedHere.contains(address)),
                    slice: endpoint.slice, targetRef: endpoint.targetRef, reason: whyNotSelected(endpoint)))
        }
        for address in routedHere where selected[address] == nil && notSelected[address] == nil {
            statuses.append(
                EndpointStatus(
                    servicePort: key.name, protocol: key.protocol, ip: address.ip, port: address.port, state: .stale,
                    reason: .notInSlices))
        }
        return statuses
    }

    /// Why kube-proxy leaves a listed endpoint out, from its conditions: terminating first (the
    /// preStop case), then not ready; a ready endpoint left out was filtered by policy or topology.
    static func whyNotSelected(_ endpoint: DesiredEndpoint) -> EndpointStatus.Reason {
        if endpoint.terminating { return .terminating }
        if !endpoint.ready { return .notReady }
        return .notSelectedOnNode
    }
}
