import SettleKubeProxyRules
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
