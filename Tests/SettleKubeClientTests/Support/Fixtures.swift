import SettleAPIServer

/// Realistic Service and EndpointSlice JSON, as the real API would hold them, for fidelity tests.
enum Fixtures {
    static func service(_ namespace: String, _ name: String, clusterIP: String, labels: [String: String] = [:]) -> JSONValue {
        .object([
            "apiVersion": "v1", "kind": "Service",
            "metadata": .object([
                "name": .string(name), "namespace": .string(namespace),
                "labels": .object(labels.mapValues { .string($0) }),
            ]),
            "spec": .object([
                "type": "ClusterIP", "clusterIP": .string(clusterIP), "clusterIPs": .array([.string(clusterIP)]),
                "ipFamilies": .array(["IPv4"]), "ipFamilyPolicy": "SingleStack", "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
                "ports": .array([.object(["name": "http", "port": .int(80), "protocol": "TCP", "targetPort": .int(8080)])]),
                "selector": .object(["app": .string(name)]),
            ]),
            "status": .object(["loadBalancer": .object([:])]),
        ])
    }

    static func endpointSlice(_ namespace: String, _ name: String, service: String, ips: [String], ready: Bool = true) -> JSONValue {
        .object([
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": .object([
                "name": .string(name), "namespace": .string(namespace),
                "labels": .object([
                    "kubernetes.io/service-name": .string(service),
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                ]),
            ]),
            "endpoints": .array(ips.map { ip in
                .object([
                    "addresses": .array([.string(ip)]),
                    "conditions": .object(["ready": .bool(ready), "serving": .bool(ready), "terminating": .bool(!ready)]),
                    "nodeName": "node-a", "zone": "zone-a",
                ])
            }),
            "ports": .array([.object(["name": "http", "port": .int(8080), "protocol": "TCP"])]),
        ])
    }
}
