import SettleModel

extension NFTablesRuleWriter {
    /// Writes the per-service-port part of `syncProxyRules` for one family; remembers which
    /// chains are declared and which shared elements (ClusterIPs, hairpin keys) are written, so
    /// every chain is declared once and referenced chains always exist.
    struct ServiceBuilder {
        let writer: NFTablesRuleWriter
        let f: FamilySyntax
        let pod: String?
        private var declaredChains = Set<String>()
        private var clusterIPs = Set<IPAddress>()
        private var hairpins = Set<String>()
        private let nodeIP: IPAddress?

        init(writer: NFTablesRuleWriter, f: FamilySyntax) {
            self.writer = writer
            self.f = f
            self.pod = writer.podCIDRText(f.family)
            self.nodeIP = writer.nodeIPs.first { $0.family == f.family }
        }

        private mutating func ensureChain(_ name: String, _ s: inout NFTablesScript) {
            if declaredChains.insert(name).inserted {
                s.declarations.append("add chain \(f.table) \(name)")
            }
        }

        private func rule(_ chain: String, _ text: String, _ s: inout NFTablesScript) {
            s.rules.append("add rule \(f.table) \(chain) \(text)")
        }

        private func mapRule(_ chain: String, _ text: String, _ s: inout NFTablesScript) {
            s.mapRules.append("add rule \(f.table) \(chain) \(text)")
        }

        private func element(_ name: String, _ body: String, _ s: inout NFTablesScript) {
            s.addElement(head: "add element \(f.table) \(name)", body)
        }

        // swiftlint:disable:next function_body_length
        mutating func write(_ original: ProxyServicePort, into s: inout NFTablesScript) {
            let fam = f.family
            guard let view = original.view(for: fam) else { return }
            let p = view.port
            let clusterIP = view.clusterIP
            let hasEndpoints = view.hasEndpoints
            let cluster = view.clusterEndpoints
            let local = view.localEndpoints
            let allLocal = p.localEndpoints.filter { $0.ip.family == fam }

            let proto = p.protocol.lowercased
            let name = p.name
            let nameString = name.description
            let base = NFTablesNames.serviceChainBase(name, protocol: p.protocol)
            let clusterChain = "service-" + base
            let localChain = "local-" + base
            let externalChain = "external-" + base
            let genA = writer.genA
            let mark = writer.markHex

            let usesClusterPolicyChain = !cluster.isEmpty && p.usesClusterEndpoints
            let usesLocalPolicyChain = !local.isEmpty && p.usesLocalEndpoints
            if usesClusterPolicyChain { ensureChain(clusterChain, &s) }
            if usesLocalPolicyChain { ensureChain(localChain, &s) }

            let internalChain = p.internalTrafficPolicyLocal ? localChain : clusterChain
            let hasInternalEndpoints = view.hasInternalEndpoints
            let externalPolicyChain = p.externalPolicyLocal ? localChain : clusterChain
            let hasExternalEndpoints = view.hasExternalEndpoints
            let usesExternalChain = view.usesExternalChain
            if usesExternalChain { ensureChain(externalChain, &s) }

            let internalVerdict = hasEndpoints ? "drop" : "goto reject-chain"
            let externalVerdict = internalVerdict
            let key = "\(proto) . \(p.port)"
            let comment = "comment \"\(nameString)\""

            // ClusterIP.
            if clusterIPs.insert(clusterIP).inserted { element("cluster-ips", "\(clusterIP)", &s) }
            if hasInternalEndpoints {
                ensureChain(internalChain, &s)
                element("service-ips", "\(clusterIP) . \(key) : goto \(internalChain)", &s)
            } else {
                element("no-endpoint-services", "\(clusterIP) . \(key) \(comment) : \(internalVerdict)", &s)
            }

            // External IPs.
            for ip in p.externalIPs {
                if hasEndpoints { element("service-ips", "\(ip) . \(key) : goto \(externalChain)", &s) }
                if !hasExternalEndpoints {
                    element("no-endpoint-services", "\(ip) . \(key) \(comment) : \(externalVerdict)", &s)
                }
            }

            // LoadBalancerSourceRanges.
            let ranges = p.sourceRanges(for: fam)
            let usesFirewallChain = !p.loadBalancerIPs.isEmpty && !ranges.isEmpty
            let firewallChain = "firewall-" + base
            if usesFirewallChain {
                ensureChain(firewallChain, &s)
                var sources = ranges.map(\.description)
                if let nodeIP, ranges.contains(where: { $0.contains(nodeIP) }) {
                    sources += p.loadBalancerIPs.map(\.description)
                }
                rule(firewallChain, "\(f.ipX) saddr != { \(sources.joined(separator: " , ")) } drop", &s)
            }

            // Load-balancer IPs.
            for ip in p.loadBalancerIPs {
                if hasEndpoints { element("service-ips", "\(ip) . \(key) : goto \(externalChain)", &s) }
                if usesFirewallChain { element("firewall-ips", "\(ip) . \(key) : goto \(firewallChain)", &s) }
            }
            if !hasExternalEndpoints {
                for ip in p.loadBalancerIPs {
                    element("no-endpoint-services", "\(ip) . \(key) \(comment) : \(externalVerdict)", &s)
                }
            }

            // NodePort.
            if let nodePort = p.nodePort, nodePort != 0 {
                if hasEndpoints {
                    element("service-nodeports", "\(proto) . \(nodePort) : goto \(externalChain)", &s)
                }
                if !hasExternalEndpoints {
                    element("no-endpoint-nodeports", "\(proto) . \(nodePort) \(comment) : \(externalVerdict)", &s)
                }
            }

            // Off-cluster traffic to the ClusterIP (Gen A; later one rule in `services`).
            if hasInternalEndpoints, genA, let pod {
                rule(
                    internalChain,
                    "\(f.ipX) daddr \(clusterIP) \(f.ipX) saddr != \(pod) jump mark-for-masquerade", &s)
            }

            // External traffic.
            if usesExternalChain {
                let markRule = genA ? "jump mark-for-masquerade" : "mark set mark or \(mark)"
                if !p.externalPolicyLocal {
                    rule(externalChain, markRule, &s)
                } else {
                    ensureChain(clusterChain, &s)
                    if let pod {
                        rule(
                            externalChain,
                            "\(f.ipX) saddr \(pod) goto \(clusterChain) comment \"short-circuit pod traffic\"", &s)
                    }
                    rule(externalChain, "fib saddr type local \(markRule) comment \"masquerade local traffic\"", &s)
                    rule(
                        externalChain,
                        "fib saddr type local goto \(clusterChain) comment \"short-circuit local traffic\"", &s)
                }
                if hasExternalEndpoints {
                    ensureChain(externalPolicyChain, &s)
                    rule(externalChain, "goto \(externalPolicyChain)", &s)
                }
            }

            // Endpoints reachable from this node, in kube-proxy order (cluster first, then local).
            var reachable = usesClusterPolicyChain ? cluster : []
            if usesLocalPolicyChain {
                let known = Set(reachable)
                reachable += local.filter { !known.contains($0) }
            }
            let affinity = p.affinityTimeoutSeconds
            let endpointChains = genA || affinity != nil
            var endpointBases: [EndpointAddress: String] = [:]
            if endpointChains {
                for ep in reachable {
                    endpointBases[ep] = NFTablesNames.endpointChainBase(name, protocol: p.protocol, endpoint: ep)
                }
            }

            if let timeout = affinity {
                for ep in reachable {
                    let set = "affinity-" + endpointBases[ep, default: ""]
                    s.declarations.append(
                        "add set \(f.table) \(set) { type \(f.addrType) ; flags dynamic,timeout ; timeout \(timeout)s ; }")
                }
            }
            if usesClusterPolicyChain {
                writeDispatch(p, chain: clusterChain, endpoints: cluster, bases: endpointBases, &s)
            }
            if usesLocalPolicyChain {
                writeDispatch(p, chain: localChain, endpoints: local, bases: endpointBases, &s)
            }
            if endpointChains {
                for ep in reachable {
                    let epBase = endpointBases[ep, default: ""]
                    let chain = "endpoint-" + epBase
                    ensureChain(chain, &s)
                    if genA { rule(chain, "\(f.ipX) saddr \(ep.ip) jump mark-for-masquerade", &s) }
                    if affinity != nil {
                        let set = "affinity-" + epBase
                        rule(chain, "update @\(set) { \(f.ipX) saddr }", &s)
                    }
                    rule(chain, "meta l4proto \(proto) dnat to \(ep)", &s)
                }
            }
            if !genA {
                let localSet = Set(allLocal)
                for ep in reachable where localSet.contains(ep) {
                    let body = "\(ep.ip) . \(ep.ip) . \(proto) . \(ep.port)"
                    if hairpins.insert(body).inserted { element("hairpin-connections", body, &s) }
                }
            }
        }

        /// `writeServiceToEndpointRules` and its 1.36/1.37 replacements. `bases` holds the
        /// endpoint chain bases when endpoint chains are in use, and is empty otherwise.
        private func writeDispatch(
            _ p: ProxyServicePort, chain: String, endpoints: [EndpointAddress], bases: [EndpointAddress: String],
            _ s: inout NFTablesScript
        ) {
            let proto = p.protocol.lowercased
            if !bases.isEmpty {
                if p.affinityTimeoutSeconds != nil {
                    for ep in endpoints {
                        let base = bases[ep, default: ""]
                        rule(chain, "\(f.ipX) saddr @affinity-\(base) goto endpoint-\(base)", &s)
                    }
                }
                var text = "numgen random mod \(endpoints.count) vmap { "
                for (i, ep) in endpoints.enumerated() {
                    if i > 0 { text += " , " }
                    text += "\(i) : goto endpoint-" + bases[ep, default: ""]
                }
                mapRule(chain, text + " }", &s)
            } else if writer.layout == .directSingle, endpoints.count == 1 {
                rule(chain, "meta l4proto \(proto) dnat to \(endpoints[0])", &s)
            } else {
                var text = "meta l4proto \(proto) dnat \(f.ipX) addr . port to numgen random mod \(endpoints.count) map { "
                for (i, ep) in endpoints.enumerated() {
                    if i > 0 { text += " , " }
                    text += "\(i) : \(ep.ip) . \(ep.port)"
                }
                mapRule(chain, text + " }", &s)
            }
        }
    }
}
