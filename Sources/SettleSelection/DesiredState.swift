public import SettleKube
import SettleModel

/// kube-proxy's desired state for one node, computed from API objects.
public enum DesiredState {
    /// What kube-proxy on `node` should program, per service port, sorted.
    ///
    /// For each IP family in ``SelectionOptions/ipFamilies`` (one proxier per family upstream):
    /// Services and slices outside kube-proxy's label selector are dropped (``ProxyLabelSelector``);
    /// each Service yields its ports for the family (``ServicePortInfo/servicePorts(of:family:)``:
    /// headless, ExternalName and Services without a ClusterIP of the family yield none); its slices
    /// are merged (``EndpointInfo/byServicePort(namespace:service:slices:family:node:options:)``)
    /// and categorised (``EndpointSelection/categorize(_:servicePort:node:options:)``). Families are
    /// then joined per service port (name and protocol). Slices of a missing Service are ignored,
    /// as kube-proxy does. An object listed twice counts once (the later copy). Service ports with no endpoints at all are still listed (they reject).
    public static func compute(
        services: [V1Service], slices: [V1EndpointSlice], node: NodeTopology,
        options: SelectionOptions = SelectionOptions()
    ) -> [DesiredServicePort] {
        // The same object listed twice (two files, say): the later copy wins, as in an informer cache.
        var servicesByKey: [String: V1Service] = [:]
        for service in services where ProxyLabelSelector.matches(service.metadata.labels) {
            servicesByKey[service.key] = service
        }
        let visibleServices = servicesByKey.keys.sorted().compactMap { servicesByKey[$0] }
        var uniqueSlices: [String: V1EndpointSlice] = [:]
        for slice in slices { uniqueSlices[slice.key] = slice }
        var slicesByService: [String: [V1EndpointSlice]] = [:]
        for slice in uniqueSlices.values {
            guard let namespace = slice.metadata.namespace, let service = slice.serviceName, !service.isEmpty else {
                continue
            }
            slicesByService["\(namespace)/\(service)", default: []].append(slice)
        }

        var byKey: [ServicePortKey: DesiredServicePort] = [:]
        for family in IPAddress.Family.allCases where options.ipFamilies.contains(family) {
            for service in visibleServices {
                let ports = ServicePortInfo.servicePorts(of: service, family: family)
                guard let first = ports.first else { continue }
                let namespace = first.name.namespace
                let name = first.name.name
                let endpointsByPort = EndpointInfo.byServicePort(
                    namespace: namespace, service: name, slices: slicesByService["\(namespace)/\(name)"] ?? [],
                    family: family, node: node, options: options)
                for port in ports {
                    let key = ServicePortKey(name: port.name, protocol: port.protocol)
                    let candidates = endpointsByPort[key] ?? []
                    let categorized = EndpointSelection.categorize(
                        candidates, servicePort: port, node: node, options: options)
                    let cluster = Set((categorized.cluster ?? []).map(\.address))
                    let local = Set((categorized.local ?? []).map(\.address))
                    let verdicts = candidates.map {
                        DesiredEndpoint($0, inCluster: cluster.contains($0.address), inLocal: local.contains($0.address))
                    }
                    let summary = DesiredServicePort.FamilySelection(
                        family: family, topologyMode: categorized.topologyMode,
                        usesClusterEndpoints: port.usesClusterEndpoints, usesLocalEndpoints: port.usesLocalEndpoints,
                        hasAnyEndpoints: categorized.hasAnyEndpoints, clusterFallback: categorized.clusterFallback,
                        localFallback: categorized.localFallback)
                    var entry =
                        byKey[key]
                        ?? DesiredServicePort(name: port.name, protocol: port.protocol, frontends: [], endpoints: [])
                    entry.frontends = Array(Set(entry.frontends).union(port.frontends)).sorted()
                    entry.endpoints = (entry.endpoints + verdicts.filter(\.isDesired)).sorted()
                    entry.excluded = (entry.excluded + verdicts.filter { !$0.isDesired }).sorted()
                    entry.families = (entry.families + [summary]).sorted()
                    byKey[key] = entry
                }
            }
        }
        return byKey.values.sorted()
    }
}
