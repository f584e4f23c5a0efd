import SettleKube
import SettleKubeProxyRules
import SettleModel
import SettleSelection

/// A pod of the lab's Service: a namespace with a backend process serving on ``LabCluster/targetPort``.
struct LabPod: Sendable, Hashable {
    var index: Int
    var node: String
    var name: String { "web-\(index)" }
    var ip: String { LabNetwork.podIP(index) }

    /// The endpoint's conditions in the Service's slice.
    enum Phase: Sendable, Hashable {
        case ready
        /// Deleted: not ready, still serving, terminating (what the EndpointSlice controller writes
        /// when the pod gets its deletion timestamp).
        case terminating
    }
}

/// The lab's API objects: one ClusterIP Service `lab/web` (172.30.0.10:80 → 8080), its one
/// EndpointSlice, and a Ready Node per node namespace.
enum LabCluster {
    static let namespace = "lab"
    static let serviceName = "web"
    static let sliceName = "web-lab"
    static let clusterIP = "172.30.0.10"
    static let port = 80
    static let targetPort = 8080

    static func service() -> V1Service {
        V1Service(
            metadata: ObjectMeta(name: serviceName, namespace: namespace),
            spec: .init(
                type: .clusterIP, clusterIP: clusterIP, clusterIPs: [clusterIP], ipFamilies: ["IPv4"],
                ports: [.init(name: "http", protocol: .tcp, port: port, targetPort: .int(targetPort))], selector: selector))
    }

    static let selector = ["app": "web"]

    /// The pod's API object: labelled into the Service, running on its node with its IP.
    static func pod(_ pod: LabPod) -> V1Pod {
        V1Pod(
            metadata: ObjectMeta(name: pod.name, namespace: namespace, labels: selector),
            spec: .init(nodeName: pod.node), status: .init(phase: "Running", podIP: pod.ip, podIPs: [.init(ip: pod.ip)]))
    }

    static func node(_ name: String, ip: String) -> V1Node {
        V1Node(
            metadata: ObjectMeta(name: name),
            status: .init(addresses: [.init(type: "InternalIP", address: ip)], conditions: [.init(type: "Ready", status: "True")]))
    }

    /// The slice holding `pods` in their phases, in pod order.
    static func slice(_ pods: [(pod: LabPod, phase: LabPod.Phase)]) -> V1EndpointSlice {
        V1EndpointSlice(
            metadata: ObjectMeta(name: sliceName, namespace: namespace, labels: [V1EndpointSlice.serviceNameLabel: serviceName]),
            addressType: .ipv4,
            endpoints: pods.map { pod, phase in
                .init(
                    addresses: [pod.ip],
                    conditions: phase == .ready
                        ? .init(ready: true, serving: true, terminating: false) : .init(ready: false, serving: true, terminating: true),
                    targetRef: ObjectReference(kind: "Pod", namespace: namespace, name: pod.name), nodeName: pod.node)
            },
            ports: [.init(name: "http", protocol: .tcp, port: targetPort)])
    }

    /// What kube-proxy on `node` programs for these objects: kube-proxy's own endpoint selection
    /// (terminating endpoints only as a fallback when none is ready).
    static func proxyPorts(service: V1Service, slice: V1EndpointSlice, node: String) -> [ProxyServicePort] {
        DesiredState.compute(services: [service], slices: [slice], node: NodeTopology(name: node)).map { desired in
            ProxyServicePort(
                name: desired.name, protocol: desired.protocol, clusterIPs: [IPAddress(clusterIP)!], port: port,
                clusterEndpoints: desired.endpoints.map { EndpointAddress(ip: $0.ip, port: $0.port) })
        }
    }
}
