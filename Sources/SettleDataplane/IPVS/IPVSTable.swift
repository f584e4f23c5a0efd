public import SettleModel

/// One IPVS virtual server (`ipvsadm -A`) and its real servers, as the kernel lists them over
/// generic netlink (`IPVS_CMD_GET_SERVICE`, `IPVS_CMD_GET_DEST`; reference §3.1).
///
/// kube-proxy programs one per frontend (ClusterIP:port, each external and LB IP:port, NodePort
/// on each node address) and protocol; it never uses firewall-mark services.
public struct IPVSVirtualServer: Hashable, Sendable {
    public var `protocol`: L4Protocol
    public var address: IPAddress
    public var port: Int
    /// `IPVS_SVC_ATTR_FWMARK`; non-zero for a firewall-mark service (address and port then unused).
    public var firewallMark: UInt32
    public var scheduler: String
    /// `IP_VS_SVC_F_*` (0x1 persistent: ClientIP affinity).
    public var flags: UInt32
    /// The persistence timeout in seconds (kube-proxy: the Service's ClientIP affinity timeout).
    public var timeout: UInt32
    public var destinations: [IPVSDestination]

    public init(
        protocol: L4Protocol, address: IPAddress, port: Int, firewallMark: UInt32 = 0, scheduler: String = "rr",
        flags: UInt32 = 0, timeout: UInt32 = 0, destinations: [IPVSDestination] = []
    ) {
        self.protocol = `protocol`
        self.address = address
        self.port = port
        self.firewallMark = firewallMark
        self.scheduler = scheduler
        self.flags = flags
        self.timeout = timeout
        self.destinations = destinations
    }

    /// `TCP 10.0.0.1:80`, as `ipvsadm -Ln` names it.
    public var description: String { "\(`protocol`.rawValue) \(address.hostPort(port))" }
}

/// One real server of a virtual server (`ipvsadm -a`).
public struct IPVSDestination: Hashable, Sendable {
    public var address: IPAddress
    public var port: Int
    /// 0 means draining: kept for the connections it has, chosen for no new one. kube-proxy sets
    /// it for a TCP endpoint that left while it still had connections (graceful termination).
    public var weight: Int32
    /// `IP_VS_CONN_F_FWD_MASK` of the forwarding method: 0 masquerade (kube-proxy's), 1 local,
    /// 2 tunnel, 3 direct routing.
    public var forwarding: UInt32
    public var activeConnections: UInt32
    public var inactiveConnections: UInt32

    public init(
        address: IPAddress, port: Int, weight: Int32 = 1, forwarding: UInt32 = 0, activeConnections: UInt32 = 0,
        inactiveConnections: UInt32 = 0
    ) {
        self.address = address
        self.port = port
        self.weight = weight
        self.forwarding = forwarding
        self.activeConnections = activeConnections
        self.inactiveConnections = inactiveConnections
    }

    /// Whether a new connection can be scheduled to it: IPVS's schedulers skip weight 0 (and
    /// `IP_VS_DEST_F_OVERLOAD`, which is transient and not listed).
    public var takesNewConnections: Bool { weight > 0 }

    public var endpoint: EndpointAddress { EndpointAddress(ip: address, port: port) }
}

/// Everything one read of a node's IPVS table found.
public struct IPVSTable: Hashable, Sendable {
    /// Sorted by protocol, address, port.
    public var virtualServers: [IPVSVirtualServer]
    /// Messages or attributes that were skipped, one sentence each.
    public var warnings: [String]

    public init(virtualServers: [IPVSVirtualServer], warnings: [String] = []) {
        self.virtualServers = virtualServers.sorted {
            ($0.protocol, $0.address, $0.port, $0.firewallMark) < ($1.protocol, $1.address, $1.port, $1.firewallMark)
        }
        self.warnings = warnings
    }
}
