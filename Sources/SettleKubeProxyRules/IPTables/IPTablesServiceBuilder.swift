import SettleModel

/// The per-service-port part of the iptables proxier's `syncProxyRules` for one family.
struct IPTablesServiceBuilder {
    let writer: IPTablesRuleWriter
    let largeClusterMode: Bool
    let pod: String?
    let nodeIP: IPAddress?

    init(writer: IPTablesRuleWriter, largeClusterMode: Bool) {
        self.writer = writer
        self.largeClusterMode = largeClusterMode
        let cidrs = writer.podCIDRs.compactMap(CIDR.init).filter { $0.family == writer.family }
        self.pod = cidrs.first?.description
        self.nodeIP = writer.nodeIPs.first { $0.family == writer.family }
    }

    /// `appendServiceCommentLocked`: per-endpoint comments vanish in large-cluster mode.
    private func serviceComment(_ text: String) -> String {
        largeClusterMode ? "" : " -m comment --comment \(text)"
    }

    // swiftlint:disable:next function_body_length
    mutating func write(_ original: ProxyServicePort, into t: inout IPTablesTables) {
        let fam = writer.family
        guard let view = original.view(for: fam) else { return }
        let p = view.port
        let clusterIP = view.clusterIP
        let hasEndpoints = view.hasEndpoints
        let cluster = view.clusterEndpoints
        let local = view.localEndpoints

        let proto = p.protocol.lowercased
        let name = p.name
        let svcName = name.description
        let hash = IPTablesNames.portProtoHash(name, protocol: p.protocol)
        let svcChain = "KUBE-SVC-" + hash
        let svlChain = "KUBE-SVL-" + hash
        let extChain = "KUBE-EXT-" + hash
        let fwChain = "KUBE-FW-" + hash

        let usesClusterPolicyChain = !cluster.isEmpty && p.usesClusterEndpoints
        let usesLocalPolicyChain = !local.isEmpty && p.usesLocalEndpoints

        let internalChain = p.internalTrafficPolicyLocal ? svlChain : svcChain
        let hasInternalEndpoints = view.hasInternalEndpoints
        let externalPolicyChain = p.externalPolicyLocal ? svlChain : svcChain
        let hasExternalEndpoints = view.hasExternalEndpoints
        let usesExternalChain = view.usesExternalChain
        let ranges = p.sourceRanges(for: fam)
        let usesFirewallChain = hasEndpoints && !p.loadBalancerIPs.isEmpty && !ranges.isEmpty
        let loadBalancerChain = usesFirewallChain ? fwChain : extChain

        var internalTarget = "", internalComment = "", externalTarget = "", externalComment = ""
        if !hasEndpoints {
            internalTarget = "REJECT"
            internalComment = "\"\(svcName) has no endpoints\""
            externalTarget = internalTarget
            externalComment = internalComment
        } else {
            if !hasInternalEndpoints {
                internalTarget = "DROP"
                internalComment = "\"\(svcName) has no local endpoints\""
            }
            if !hasExternalEndpoints {
                externalTarget = "DROP"
                externalComment = "\"\(svcName) has no local endpoints\""
            }
        }
        let match = "-m \(proto) -p \(proto)"
        let dport = "--dport \(p.port)"

        // Chains this service uses (declared before any rule, like kube-proxy's natChains).
        if usesClusterPolicyChain { t.natChains.append(svcChain) }
        if usesLocalPolicyChain { t.natChains.append(svlChain) }
        if usesExternalChain { t.natChains.append(extChain) }
        if usesFirewallChain { t.natChains.append(fwChain) }
        var reachable = usesClusterPolicyChain ? cluster : []
        if usesLocalPolicyChain {
            let known = Set(reachable)
            reachable += local.filter { !known.contains($0) }
        }
        var seps: [EndpointAddress: String] = [:]
        for ep in reachable {
            let sep = IPTablesNames.sep(name, protocol: p.protocol, endpoint: ep)
            seps[ep] = sep
            t.natChains.append(sep)
        }

        // ClusterIP.
        if hasInternalEndpoints {
            t.natRules.append(
                "-A KUBE-SERVICES -m comment --comment \"\(svcName) cluster IP\" \(match) -d \(clusterIP) \(dport) -j \(internalChain)")
        } else {
            t.filterRules.append(
                "-A KUBE-SERVICES -m comment --comment \(internalComment) \(match) -d \(clusterIP) \(dport) -j \(internalTarget)")
        }
        // External IPs.
        for ip in p.externalIPs {
            if hasEndpoints {
                t.natRules.append(
                    "-A KUBE-SERVICES -m comment --comment \"\(svcName) external IP\" \(match) -d \(ip) \(dport) -j \(extChain)")
            }
            if !hasExternalEndpoints {
                t.filterRules.append(
                    "-A KUBE-EXTERNAL-SERVICES -m comment --comment \(externalComment) \(match) -d \(ip) \(dport) -j \(externalTarget)")
            }
        }
        // Load-balancer IPs.
        for ip in p.loadBalancerIPs {
            if hasEndpoints {
                t.natRules.append(
                    "-A KUBE-SERVICES -m comment --comment \"\(svcName) loadbalancer IP\" \(match) -d \(ip) \(dport) -j \(loadBalancerChain)")
            }
            if usesFirewallChain {
                t.filterRules.append(
                    "-A KUBE-PROXY-FIREWALL -m comment --comment \"\(svcName) traffic not accepted by \(fwChain)\" \(match) -d \(ip) \(dport) -j DROP")
            }
        }
        if !hasExternalEndpoints {
            for ip in p.loadBalancerIPs {
                t.filterRules.append(
                    "-A KUBE-EXTERNAL-SERVICES -m comment --comment \(externalComment) \(match) -d \(ip) \(dport) -j \(externalTarget)")
            }
        }
        // NodePort.
        if let nodePort = p.nodePort, nodePort != 0 {
            if hasEndpoints {
                t.natRules.append("-A KUBE-NODEPORTS -m comment --comment \(svcName) \(match) --dport \(nodePort) -j \(extChain)")
            }
            if !hasExternalEndpoints {
                t.filterRules.append(
                    "-A KUBE-EXTERNAL-SERVICES -m comment --comment \(externalComment) -m addrtype --dst-type LOCAL \(match) --dport \(nodePort) -j \(externalTarget)")
            }
        }
        // Health-check NodePort.
        if let health = p.healthCheckNodePort, health != 0 {
            t.filterRules.append(
                "-A KUBE-NODEPORTS -m comment --comment \"\(svcName) health check node port\" -m tcp -p tcp --dport \(health) -j ACCEPT")
        }

        // Off-cluster traffic to the ClusterIP.
        if hasInternalEndpoints, let pod {
            t.natRules.append(
                "-A \(internalChain) -m comment --comment \"\(svcName) cluster IP\" \(match) -d \(clusterIP) \(dport) ! -s \(pod) -j KUBE-MARK-MASQ")
        }
        // External traffic.
        if usesExternalChain {
            if !p.externalPolicyLocal {
                t.natRules.append(
                    "-A \(extChain) -m comment --comment \"masquerade traffic for \(svcName) external destinations\" -j KUBE-MARK-MASQ")
            } else {
                if let pod {
                    t.natRules.append(
                        "-A \(extChain) -m comment --comment \"pod traffic for \(svcName) external destinations\" -s \(pod) -j \(svcChain)")
                }
                t.natRules.append(
                    "-A \(extChain) -m comment --comment \"masquerade LOCAL traffic for \(svcName) external destinations\" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ")
                t.natRules.append(
                    "-A \(extChain) -m comment --comment \"route LOCAL traffic for \(svcName) external destinations\" -m addrtype --src-type LOCAL -j \(svcChain)")
            }
            if hasExternalEndpoints { t.natRules.append("-A \(extChain) -j \(externalPolicyChain)") }
        }
        // LoadBalancerSourceRanges.
        if usesFirewallChain {
            for range in ranges {
                t.natRules.append("-A \(fwChain) -m comment --comment \"\(svcName) loadbalancer IP\" -s \(range.description) -j \(extChain)")
            }
            if let nodeIP, ranges.contains(where: { $0.contains(nodeIP) }) {
                for ip in p.loadBalancerIPs {
                    t.natRules.append("-A \(fwChain) -m comment --comment \"\(svcName) loadbalancer IP\" -s \(ip) -j \(extChain)")
                }
            }
            t.natRules.append(
                "-A \(fwChain) -m comment --comment \"other traffic to \(svcName) will be dropped by KUBE-PROXY-FIREWALL\"")
        }

        if usesClusterPolicyChain { writeServiceToEndpointRules(p, chain: svcChain, endpoints: cluster, seps: seps, &t) }
        if usesLocalPolicyChain { writeServiceToEndpointRules(p, chain: svlChain, endpoints: local, seps: seps, &t) }

        // Endpoint chains.
        let comment = serviceComment(svcName)
        for ep in reachable {
            let sep = seps[ep, default: ""]
            t.natRules.append("-A \(sep)\(comment) -s \(ep.ip) -j KUBE-MARK-MASQ")
            let recent = p.affinityTimeoutSeconds != nil ? " -m recent --name \(sep) --set" : ""
            t.natRules.append("-A \(sep)\(comment)\(recent) \(match) -j DNAT --to-destination \(ep)")
        }
    }

    /// `writeServiceToEndpointRules`: affinity `recent` checks, then the statistic cascade.
    private func writeServiceToEndpointRules(
        _ p: ProxyServicePort, chain: String, endpoints: [EndpointAddress], seps: [EndpointAddress: String],
        _ t: inout IPTablesTables
    ) {
        let svcName = p.name.description
        if let timeout = p.affinityTimeoutSeconds {
            for ep in endpoints {
                let sep = seps[ep, default: ""]
                t.natRules.append(
                    "-A \(chain)\(serviceComment("\"\(svcName) -> \(ep)\"")) -m recent --name \(sep) --rcheck --seconds \(timeout) --reap -j \(sep)")
            }
        }
        let n = endpoints.count
        for (i, ep) in endpoints.enumerated() {
            let sep = seps[ep, default: ""]
            var line = "-A \(chain)\(serviceComment("\"\(svcName) -> \(ep)\""))"
            if i < n - 1 {
                line += " -m statistic --mode random --probability \(IPTablesRuleWriter.probability(n - i))"
            }
            t.natRules.append(line + " -j \(sep)")
        }
    }
}
