public import SettleKube
public import SettleModel

extension EndpointInfo {
    /// Merges the EndpointSlices of one Service into endpoints per service port, for one IP family.
    ///
    /// Mirrors `EndpointSliceCache.endpointInfoByServicePort` and `addEndpoints`
    /// (KK `pkg/proxy/endpointslicecache.go`, newest version):
    /// - only slices whose `addressType` is `family` (FQDN never), in `namespace`, labelled
    ///   `kubernetes.io/service-name: service` and matching ``ProxyLabelSelector``;
    /// - a slice port with a nil `name` is ignored (an unnamed port is `""`), as is a nil or 0 `port`;
    ///   a nil protocol is TCP;
    /// - each endpoint contributes `addresses[0]` only (parsed sloppily; unparseable or of the
    ///   other family: skipped), endpoints without addresses are skipped;
    /// - conditions: ready = nil or true; serving = nil or true; terminating = non-nil and true;
    /// - zone hints always; node hints only with ``SelectionOptions/preferSameTrafficDistribution``;
    /// - duplicates of the same `ip:port`: a later non-terminating entry replaces an earlier one, a
    ///   terminating entry never replaces. Upstream iterates a map, so "later" is unspecified; here
    ///   slices are visited in name order, which makes the result deterministic.
    /// Each list is sorted by address.
    public static func byServicePort(
        namespace: String, service: String, slices: [V1EndpointSlice], family: IPAddress.Family,
        node: NodeTopology, options: SelectionOptions
    ) -> [ServicePortKey: [EndpointInfo]] {
        let addressType = family == .ipv4 ? V1EndpointSlice.AddressType.ipv4 : .ipv6
        let relevant = slices.filter {
            $0.addressType == addressType && $0.metadata.namespace == namespace && $0.serviceName == service
                && !(($0.metadata.name ?? "").isEmpty) && ProxyLabelSelector.matches($0.metadata.labels)
        }.sorted { ($0.metadata.name ?? "") < ($1.metadata.name ?? "") }

        var sets: [ServicePortKey: [EndpointAddress: EndpointInfo]] = [:]
        for slice in relevant {
            let reference = SliceReference(
                name: slice.metadata.name ?? "", uid: slice.metadata.uid, generation: slice.metadata.generation)
            for port in slice.ports ?? [] {
                guard let portName = port.name else { continue }
                guard let number = port.port, number != 0 else { continue }
                let key = ServicePortKey(
                    name: ServicePortName(namespace: namespace, name: service, port: portName),
                    protocol: port.protocol ?? .tcp)
                var set = sets[key] ?? [:]
                for endpoint in slice.endpoints ?? [] {
                    guard let info = EndpointInfo(
                        endpoint, port: number, family: family, slice: reference, namespace: namespace, node: node,
                        options: options)
                    else { continue }
                    if set[info.address] == nil || !info.terminating { set[info.address] = info }
                }
                sets[key] = set
            }
        }
        return sets.mapValues { $0.values.sorted() }
    }

    /// One slice endpoint as kube-proxy's `newBaseEndpointInfo` builds it; `nil` where upstream skips it.
    init?(
        _ endpoint: V1EndpointSlice.Endpoint, port: Int, family: IPAddress.Family, slice: SliceReference,
        namespace: String, node: NodeTopology, options: SelectionOptions
    ) {
        guard let first = endpoint.addresses.first, let ip = IPAddress(first), ip.family == family else { return nil }
        let conditions = endpoint.conditions
        let nodeName = endpoint.nodeName
        var target: String?
        if let ref = endpoint.targetRef, let name = ref.name {
            target = "\(ref.namespace ?? namespace)/\(name)"
        }
        self.init(
            address: EndpointAddress(ip: ip, port: port),
            ready: conditions?.ready ?? true,
            serving: conditions?.serving ?? true,
            terminating: conditions?.terminating ?? false,
            local: !node.name.isEmpty && nodeName == node.name,
            zoneHints: Set((endpoint.hints?.forZones ?? []).map(\.name)),
            nodeHints: options.preferSameTrafficDistribution ? Set((endpoint.hints?.forNodes ?? []).map(\.name)) : [],
            nodeName: nodeName, zone: endpoint.zone, targetRef: target, slice: slice)
    }
}
