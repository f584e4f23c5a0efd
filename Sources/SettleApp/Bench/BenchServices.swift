import SettleKubeProxyRules
import SettleKube
import SettleModel

/// A synthetic cluster for benchmarks: `count` ClusterIP services with `endpoints` endpoints each,
/// every tenth with a NodePort, all in one family, addresses unique.
enum BenchServices {
    static func make(count: Int, endpoints: Int) -> [ProxyServicePort] {
        (0..<count).map { i in
            let clusterIP = IPAddress.v4(0xAC1E_0000 | UInt32(i + 1))  // 172.30.0.0/16
            let eps = (0..<endpoints).map { j in
                EndpointAddress(ip: .v4(0x0A00_0000 | UInt32(i * endpoints + j + 1)), port: 8080)  // 10.0.0.0/8
            }
            return ProxyServicePort(
                name: ServicePortName(namespace: "bench-\(i % 50)", name: "svc-\(i)", port: "http"), protocol: .tcp,
                clusterIPs: [clusterIP], port: 80, nodePort: i % 10 == 0 ? 30000 + i / 10 : nil, clusterEndpoints: eps)
        }
    }
}

extension BenchServices {
    /// The Services and EndpointSlices (one slice per Service, `NAME-1`, every endpoint ready)
    /// from which kube-proxy's selection gives exactly `ports`: what the agent benchmark serves
    /// from its stand-in API server next to the rules written from `ports`.
    static func objects(for ports: [ProxyServicePort]) -> (services: [V1Service], slices: [V1EndpointSlice]) {
        var services: [V1Service] = []
        var slices: [V1EndpointSlice] = []
        for port in ports {
            let name = port.name
            let ip = port.clusterIPs[0].description
            services.append(V1Service(
                metadata: ObjectMeta(name: name.name, namespace: name.namespace),
                spec: .init(
                    type: port.nodePort == nil ? .clusterIP : .nodePort, clusterIP: ip, clusterIPs: [ip], ipFamilies: ["IPv4"],
                    ports: [.init(name: name.port, protocol: port.protocol, port: port.port, nodePort: port.nodePort)])))
            slices.append(V1EndpointSlice(
                metadata: ObjectMeta(
                    name: "\(name.name)-1", namespace: name.namespace, labels: [V1EndpointSlice.serviceNameLabel: name.name]),
                addressType: .ipv4,
                endpoints: port.clusterEndpoints.map {
                    .init(addresses: [$0.ip.description], conditions: .init(ready: true, serving: true, terminating: false), nodeName: "node-b")
                },
                ports: [.init(name: name.port, protocol: port.protocol, port: port.clusterEndpoints.first?.port ?? 8080)]))
        }
        return (services, slices)
    }
}
