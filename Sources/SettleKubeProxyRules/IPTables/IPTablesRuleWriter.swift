import SettleModel

/// Writes kube-proxy's iptables-mode rules for one IP family as `iptables-restore` input
/// (`*filter` and `*nat` tables).
///
/// Mirrors `syncProxyRules` and `writeServiceToEndpointRules` of KK `pkg/proxy/iptables/proxier.go`
/// (≈v1.28–1.35) for a full sync: `KUBE-SERVICES`, `KUBE-NODEPORTS`, `KUBE-SVC/SVL/EXT/FW/SEP-…`,
/// `KUBE-MARK-MASQ`, `KUBE-POSTROUTING` in `nat`; `KUBE-SERVICES`, `KUBE-EXTERNAL-SERVICES`,
/// `KUBE-NODEPORTS`, `KUBE-FORWARD`, `KUBE-PROXY-FIREWALL` (and for IPv4 `KUBE-FIREWALL`) in
/// `filter`, with kube-proxy's comments and `%0.10f` probabilities. Load it with
/// `iptables-restore` / `ip6tables-restore` (nft or legacy backend).
public struct IPTablesRuleWriter: Sendable, Hashable {
    /// The family written; addresses of the other family in the input are ignored.
    public var family: IPAddress.Family
    /// Pod CIDRs (local detector); empty disables off-cluster masquerade and pod short-circuit.
    public var podCIDRs: [String]
    /// NodePort addresses; `nil` means all local addresses (`-m addrtype --dst-type LOCAL`).
    public var nodePortAddresses: [IPAddress]?
    /// The node's primary IPs, for `allowFromNode` in `KUBE-FW-…` chains.
    public var nodeIPs: [IPAddress]
    public var masqueradeMark: UInt32
    /// Omit per-endpoint comments as kube-proxy does above 1000 endpoints; `nil` decides like
    /// kube-proxy from the endpoint count of the input.
    public var largeClusterMode: Bool?
    /// IPv4 NodePorts on localhost (`--iptables-localhost-nodeports`, default true): adds the
    /// `KUBE-FIREWALL` localnet rule; when false, 127.0.0.0/8 is excluded from NodePorts.
    public var localhostNodePorts: Bool
    /// `MASQUERADE --random-fully`, written when iptables supports it (all current versions).
    public var randomFully: Bool
    /// Also write the built-in chains and the jumps into kube-proxy's chains that kube-proxy
    /// installs separately (`iptablesJumpChains`, `iptables -I`), so the output works on its own
    /// in an empty namespace.
    public var includeJumpRules: Bool

    /// kube-proxy's `largeClusterEndpointsThreshold`.
    public static let largeClusterEndpointsThreshold = 1000

    public init(
        family: IPAddress.Family = .ipv4,
        podCIDRs: [String] = ["10.0.0.0/8", "fd00:10::/64"],
        nodePortAddresses: [IPAddress]? = nil,
        nodeIPs: [IPAddress] = [],
        masqueradeMark: UInt32 = 0x4000,
        largeClusterMode: Bool? = nil,
        localhostNodePorts: Bool = true,
        randomFully: Bool = true,
        includeJumpRules: Bool = true
    ) {
        self.family = family
        self.podCIDRs = podCIDRs
        self.nodePortAddresses = nodePortAddresses
        self.nodeIPs = nodeIPs
        self.masqueradeMark = masqueradeMark
        self.largeClusterMode = largeClusterMode
        self.localhostNodePorts = localhostNodePorts
        self.randomFully = randomFully
        self.includeJumpRules = includeJumpRules
    }

    /// The `iptables-restore` input: `*filter … COMMIT` then `*nat … COMMIT`.
    public func restoreInput(for ports: [ProxyServicePort]) -> String {
        var tables = IPTablesTables()
        let total = ports.reduce(0) { sum, p in
            sum + Set((p.clusterEndpoints + p.localEndpoints).filter { $0.ip.family == family }).count
        }
        let large = largeClusterMode ?? (total > Self.largeClusterEndpointsThreshold)
        var builder = IPTablesServiceBuilder(writer: self, largeClusterMode: large)
        for port in ports { builder.write(port, into: &tables) }
        return render(tables)
    }

    /// `fmt.Sprintf("%0.10f", 1.0/float64(n))`, exactly: half-way cases round to even, as Go's
    /// correctly rounded formatting of the (then exact) binary value does.
    public static func probability(_ n: Int) -> String {
        precondition(n >= 1)
        let scale: UInt64 = 10_000_000_000
        var quotient = scale / UInt64(n)
        let remainder = scale % UInt64(n)
        if 2 * remainder > UInt64(n) || (2 * remainder == UInt64(n) && quotient % 2 == 1) { quotient += 1 }
        let whole = quotient / scale
        let fraction = String(quotient % scale)
        return "\(whole)." + String(repeating: "0", count: 10 - fraction.count) + fraction
    }

    var markHex: String { "0x" + String(masqueradeMark, radix: 16) }

    private func render(_ t: IPTablesTables) -> String {
        let mark = markHex
        let v4 = family == .ipv4
        var out: [String] = []
        out.reserveCapacity(t.natRules.count + t.natChains.count + t.filterRules.count + 64)

        out.append("*filter")
        if includeJumpRules { out += [":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"] }
        out += [":KUBE-NODEPORTS - [0:0]", ":KUBE-SERVICES - [0:0]", ":KUBE-EXTERNAL-SERVICES - [0:0]"]
        let firewall = v4 && localhostNodePorts
        if firewall { out.append(":KUBE-FIREWALL - [0:0]") }
        out += [":KUBE-FORWARD - [0:0]", ":KUBE-PROXY-FIREWALL - [0:0]"]
        if includeJumpRules {
            let lbFirewall = "-m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL"
            let portals = "-m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
            let external = "-m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES"
            out += [
                "-A INPUT \(lbFirewall)",
                "-A INPUT -m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS",
                "-A INPUT \(external)",
                "-A FORWARD \(lbFirewall)",
                "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD",
                "-A FORWARD \(portals)",
                "-A FORWARD \(external)",
                "-A OUTPUT \(lbFirewall)",
                "-A OUTPUT \(portals)",
            ]
            if firewall { out += ["-A INPUT -j KUBE-FIREWALL", "-A OUTPUT -j KUBE-FIREWALL"] }
        }
        out += t.filterRules
        if firewall {
            out.append(
                "-A KUBE-FIREWALL -m comment --comment \"block incoming localnet connections\" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"
            )
        }
        out += [
            "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
            "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark \(mark)/\(mark) -j ACCEPT",
            "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "COMMIT",
        ]

        out.append("*nat")
        if includeJumpRules {
            out += [":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]"]
        }
        out += [":KUBE-SERVICES - [0:0]", ":KUBE-NODEPORTS - [0:0]", ":KUBE-POSTROUTING - [0:0]", ":KUBE-MARK-MASQ - [0:0]"]
        out += t.natChains.map { ":\($0) - [0:0]" }
        if includeJumpRules {
            out += [
                "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
                "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
                "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING",
            ]
        }
        out += [
            "-A KUBE-POSTROUTING -m mark ! --mark \(mark)/\(mark) -j RETURN",
            "-A KUBE-POSTROUTING -j MARK --xor-mark \(mark)",
            "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE"
                + (randomFully ? " --random-fully" : ""),
            "-A KUBE-MARK-MASQ -j MARK --or-mark \(mark)",
        ]
        out += t.natRules
        let last = "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\""
        if let addresses = nodePortAddresses {
            for address in addresses where address.family == family {
                if address.isLoopback && (!v4 || !localhostNodePorts) { continue }
                out.append("\(last) -d \(address) -j KUBE-NODEPORTS")
            }
        } else if !v4 {
            out.append("\(last) -m addrtype --dst-type LOCAL ! -d ::1/128 -j KUBE-NODEPORTS")
        } else if !localhostNodePorts {
            out.append("\(last) -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS")
        } else {
            out.append("\(last) -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")
        }
        out.append("COMMIT")
        return out.joined(separator: "\n") + "\n"
    }
}
