import SettleKube
import SettleModel
import SettleSelection

/// Shorthands for building Services, slices and endpoints in tests.
enum Build {
    static func ip(_ text: String) -> IPAddress { IPAddress(text)! }

    /// `"10.0.0.1:80"` or `"[fd00::1]:80"` → address.
    static func address(_ text: String) -> EndpointAddress {
        let colon = text.lastIndex(of: ":")!
        var host = text[..<colon]
        if host.hasPrefix("[") { host = host.dropFirst().dropLast() }
        return EndpointAddress(ip: IPAddress(host)!, port: Int(text[text.index(after: colon)...])!)
    }

    static func endpoint(
        _ text: String, ready: Bool = true, serving: Bool = true, terminating: Bool = false, local: Bool = false,
        zones: Set<String> = [], nodes: Set<String> = []
    ) -> EndpointInfo {
        EndpointInfo(
            address: address(text), ready: ready, serving: serving, terminating: terminating, local: local,
            zoneHints: zones, nodeHints: nodes)
    }

    static func servicePort(
        internalLocal: Bool = false, externalLocal: Bool = false, nodePort: Int = 0
    ) -> ServicePortInfo {
        ServicePortInfo(
            name: ServicePortName(namespace: "ns", name: "svc", port: ""), clusterIP: ip("172.30.0.1"), port: 80,
            nodePort: nodePort, internalPolicyLocal: internalLocal, externalPolicyLocal: externalLocal)
    }

    static func service(
        _ name: String = "svc", namespace: String = "ns", type: V1Service.ServiceType = .clusterIP,
        clusterIPs: [String] = ["172.30.0.1"], ports: [V1Service.ServicePort] = [.init(name: "http", port: 80)],
        labels: [String: String]? = nil, internalPolicy: V1Service.TrafficPolicy? = nil,
        externalPolicy: V1Service.TrafficPolicy? = nil, externalIPs: [String]? = nil,
        ingress: [V1Service.LoadBalancerIngress]? = nil
    ) -> V1Service {
        V1Service(
            metadata: ObjectMeta(name: name, namespace: namespace, uid: "uid-\(name)", labels: labels),
            spec: .init(
                type: type, clusterIP: clusterIPs.first, clusterIPs: clusterIPs,
                ipFamilies: clusterIPs.map { $0 == "None" ? "IPv4" : ($0.contains(":") ? "IPv6" : "IPv4") },
                ports: ports, externalIPs: externalIPs, internalTrafficPolicy: internalPolicy,
                externalTrafficPolicy: externalPolicy),
            status: ingress.map { .init(loadBalancer: .init(ingress: $0)) })
    }

    static func sliceEndpoint(
        _ addresses: String..., ready: Bool? = true, serving: Bool? = nil, terminating: Bool? = nil,
        node: String? = nil, zone: String? = nil, forZones: [String]? = nil, forNodes: [String]? = nil,
        pod: String? = nil
    ) -> V1EndpointSlice.Endpoint {
        V1EndpointSlice.Endpoint(
            addresses: addresses,
            conditions: ready == nil && serving == nil && terminating == nil
                ? nil : .init(ready: ready, serving: serving, terminating: terminating),
            targetRef: pod.map { ObjectReference(kind: "Pod", namespace: "ns", name: $0) },
            nodeName: node, zone: zone,
            hints: forZones == nil && forNodes == nil
                ? nil : .init(forZones: forZones?.map { .init(name: $0) }, forNodes: forNodes?.map { .init(name: $0) }))
    }

    static func slice(
        _ name: String, service: String? = "svc", namespace: String = "ns", addressType: V1EndpointSlice.AddressType = .ipv4,
        ports: [V1EndpointSlice.EndpointPort] = [.init(name: "http", protocol: .tcp, port: 8080)],
        labels: [String: String] = [:], generation: Int64 = 1, _ endpoints: V1EndpointSlice.Endpoint...
    ) -> V1EndpointSlice {
        var allLabels = labels
        if let service { allLabels[V1EndpointSlice.serviceNameLabel] = service }
        return V1EndpointSlice(
            metadata: ObjectMeta(
                name: name, namespace: namespace, uid: "uid-\(name)", generation: generation, labels: allLabels),
            addressType: addressType, endpoints: endpoints, ports: ports)
    }
}
