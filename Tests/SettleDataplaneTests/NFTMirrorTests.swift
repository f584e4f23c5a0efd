import SettleDataplane
import SettleModel
import Testing

/// The change-event mirror, driven with hand-built register-level changes shaped like kube-proxy's
/// transactions: after every transaction its answer must equal a full walk of the same tables.
struct NFTMirrorTests {
    // MARK: Building kube-proxy-shaped register-level objects

    static let verdictType: UInt32 = 0xffff_ff00

    static func v4Key(_ ip: IPAddress, proto: UInt8 = 6, port: UInt16) -> [UInt8] {
        ip.bytes + [proto, 0, 0, 0, UInt8(port >> 8), UInt8(port & 0xff), 0, 0]
    }

    static func concatType(_ family: NFTFamily) -> UInt32 {
        ((family == .ip ? NFTDataType.ipv4Address : NFTDataType.ipv6Address) << 12) | (NFTDataType.inetProtocol << 6) | NFTDataType.inetService
    }

    static func keyLength(_ family: NFTFamily) -> UInt32 { family == .ip ? 12 : 24 }

    static func dispatchMap(_ name: String, family: NFTFamily) -> NFTLowLevelSet {
        NFTLowLevelSet(name: name, flags: NFTLowLevelSet.mapFlag, keyType: concatType(family), keyLength: keyLength(family), dataType: verdictType, dataLength: 0)
    }

    static func nodePortMap(_ name: String) -> NFTLowLevelSet {
        NFTLowLevelSet(name: name, flags: NFTLowLevelSet.mapFlag, keyType: (NFTDataType.inetProtocol << 6) | NFTDataType.inetService, keyLength: 8, dataType: verdictType, dataLength: 0)
    }

    static func addressSet(_ name: String, family: NFTFamily) -> NFTLowLevelSet {
        NFTLowLevelSet(name: name, flags: 0, keyType: family == .ip ? NFTDataType.ipv4Address : NFTDataType.ipv6Address, keyLength: family == .ip ? 4 : 16)
    }

    static func baseTable(_ family: NFTFamily) -> [NFTChange] {
        let t = NFTRuleset.kubeProxyTable
        return [
            .newTable(family: family, table: t),
            .newSet(family: family, table: t, set: dispatchMap("service-ips", family: family)),
            .newSet(family: family, table: t, set: nodePortMap("service-nodeports")),
            .newSet(family: family, table: t, set: dispatchMap("no-endpoint-services", family: family)),
            .newSet(family: family, table: t, set: nodePortMap("no-endpoint-nodeports")),
            .newSet(family: family, table: t, set: addressSet("cluster-ips", family: family)),
            .newSet(family: family, table: t, set: dispatchMap("firewall-ips", family: family)),
        ]
    }

    /// A small simulated kube-proxy: services with endpoints, written as register-level changes in
    /// the shapes kube-proxy's transactions produce (endpoint chains behind anonymous numgen vmaps,
    /// stale chains flushed in one sync and deleted in the next).
    struct Simulator {
        struct Service {
            var index: Int
            var family: NFTFamily
            var clusterIP: IPAddress
            var externalIP: IPAddress?
            var firewalled = false
            var nodePort: UInt16?
            var endpoints: [EndpointAddress]
            /// Handle of the service chain's vmap rule, and its anonymous map.
            var vmapRule: (handle: UInt64, set: String)?
        }

        var rng: SplitMix64
        var nextHandle: UInt64 = 100
        var nextSet = 0
        var services: [Int: Service] = [:]
        var nextService = 0
        /// Chains flushed in the last sync, deleted in the next (kube-proxy's delay).
        var staleChains: [(NFTFamily, String)] = []
        var families: [NFTFamily] = [.ip, .ip, .ip, .ip6]
        let t = NFTRuleset.kubeProxyTable

        init(seed: UInt64) { rng = SplitMix64(seed: seed) }

        static func hash(_ prefix: Character, _ n: Int) -> String {
            let digits = String(n)
            return String(prefix) + String(repeating: "0", count: 7 - digits.count) + digits
        }

        func serviceChain(_ s: Service) -> String { "service-\(Self.hash("S", s.index))-ns\(s.index % 3)/svc\(s.index)/tcp/p" }
        func externalChain(_ s: Service) -> String { "external-\(Self.hash("X", s.index))-ns\(s.index % 3)/svc\(s.index)/tcp/p" }
        func endpointChain(_ s: Service, _ e: EndpointAddress) -> String {
            "endpoint-\(Self.hash("E", s.index))-ns\(s.index % 3)/svc\(s.index)/tcp/p__\(e.ip)/\(e.port)"
        }

        mutating func handle() -> UInt64 {
            nextHandle += 1
            return nextHandle
        }

        static func dnat(_ e: EndpointAddress) -> [NFTLowLevelExpression] {
            [.other(name: "meta", dreg: 1), .other(name: "cmp", dreg: nil), .immediateData(dreg: 1, data: e.ip.bytes),
             .immediateData(dreg: 2, data: [UInt8(e.port >> 8), UInt8(e.port & 0xff)]),
             .nat(type: 1, family: e.ip.family == .ipv4 ? 2 : 10, addressRegister: 1, portRegister: 2)]
        }

        func element(_ key: [UInt8], goto chain: String, comment: String? = nil) -> NFTLowLevelElement {
            NFTLowLevelElement(key: key, verdict: -4, chain: chain, comment: comment)
        }

        func dispatchKey(_ s: Service, _ ip: IPAddress) -> [UInt8] {
            ip.bytes + [6, 0, 0, 0, 0, 80, 0, 0]
        }

        func nodePortKey(_ port: UInt16) -> [UInt8] { [6, 0, 0, 0, UInt8(port >> 8), UInt8(port & 0xff), 0, 0] }

        /// The changes that (re)write a service's endpoint dispatch: a new anonymous vmap rule
        /// replacing the old one, endpoint chains for new endpoints, flushes for removed ones.
        mutating func writeEndpoints(_ s: inout Service, old: [EndpointAddress]) -> [NFTChange] {
            var out: [NFTChange] = []
            let f = s.family
            let chain = serviceChain(s)
            for e in s.endpoints where !old.contains(e) {
                let c = endpointChain(s, e)
                out.append(.newChain(family: f, table: t, chain: c))
                out.append(.newRule(family: f, table: t, rule: NFTLowLevelRule(chain: c, handle: handle(), expressions: Self.dnat(e))))
            }
            if let previous = s.vmapRule {
                out.append(.delRule(family: f, table: t, chain: chain, handle: previous.handle))
                out.append(.delSet(family: f, table: t, set: previous.set))
                s.vmapRule = nil
            }
            if !s.endpoints.isEmpty {
                nextSet += 1
                let name = "__map\(nextSet)"
                let elements = s.endpoints.enumerated().map { i, e in
                    NFTLowLevelElement(key: [UInt8(i), 0, 0, 0], verdict: -4, chain: endpointChain(s, e))
                }
                let set = NFTLowLevelSet(
                    name: name, flags: NFTLowLevelSet.anonymousFlag | NFTLowLevelSet.mapFlag | 0x2, keyType: NFTDataType.integer, keyLength: 4,
                    dataType: verdictType, dataLength: 0, keyByteOrder: 1)
                out.append(.newSet(family: f, table: t, set: set))
                // Elements come in a separate message, as the kernel reports them.
                out.append(.newElements(family: f, table: t, set: name, elements: elements))
                let h = handle()
                out.append(.newRule(family: f, table: t, rule: NFTLowLevelRule(chain: chain, handle: h, expressions: [
                    .numgen(dreg: 1, modulus: UInt32(s.endpoints.count), type: 1, offset: 0),
                    .lookup(set: name, sreg: 1, dreg: 0, inverted: false),
                ])))
                s.vmapRule = (h, name)
            }
            return out
        }

        mutating func flushLater(_ family: NFTFamily, _ chain: String, rules: [UInt64]) -> [NFTChange] {
            staleChains.append((family, chain))
            return rules.map { .delRule(family: family, table: t, chain: chain, handle: $0) }
        }

        /// Rule handles per chain, tracked for flushes.
        var ruleHandles: [String: [UInt64]] = [:]

        mutating func record(_ changes: [NFTChange]) {
            for change in changes {
                switch change {
                case .newRule(_, _, let rule, _): ruleHandles[rule.chain, default: []].append(rule.handle)
                case .delRule(_, _, let chain, let handle): ruleHandles[chain]?.removeAll { $0 == handle }
                case .delChain(_, _, let chain): ruleHandles[chain] = nil
                default: break
                }
            }
        }

        func endpoints(for s: Service, count: Int, salt: UInt64) -> [EndpointAddress] {
            (0..<count).map { e in
                let ip = s.family == .ip ? IPAddress("10.\(s.index % 200).\(Int(salt % 200)).\(e + 2)")! : IPAddress("fd00::\(s.index):\(salt % 200):\(e + 2)")!
                return EndpointAddress(ip: ip, port: 8080)
            }
        }

        /// One random kube-proxy sync: deletes last sync's stale chains, then changes a few services.
        mutating func sync() -> [NFTChange] {
            // Only chains still empty: a chain written again since its flush stays.
            var out: [NFTChange] = staleChains.filter { ruleHandles[$0.1]?.isEmpty ?? true }.map { .delChain(family: $0.0, table: t, chain: $0.1) }
            staleChains = []
            for _ in 0..<Int(rng.next() % 3 + 1) {
                let op = rng.next() % 7
                if op <= 1 || services.isEmpty {
                    out += addService()
                } else {
                    let key = services.keys.sorted()[Int(rng.next() % UInt64(services.count))]
                    switch op {
                    case 2, 3: out += changeEndpoints(key)
                    case 4: out += removeService(key)
                    case 5: out += toggleExternal(key)
                    default: out += toggleNodePort(key)
                    }
                }
            }
            record(out)
            return out
        }

        mutating func addService() -> [NFTChange] {
            let index = nextService
            nextService += 1
            let family = families[Int(rng.next() % UInt64(families.count))]
            let clusterIP = family == .ip ? IPAddress("172.30.\(index / 250).\(index % 250 + 1)")! : IPAddress("fd00:10:96::\(index + 1)")!
            var s = Service(index: index, family: family, clusterIP: clusterIP, endpoints: [])
            s.endpoints = endpoints(for: s, count: Int(rng.next() % 4), salt: rng.next())
            var out: [NFTChange] = [
                .newChain(family: family, table: t, chain: serviceChain(s)),
                .newElements(family: family, table: t, set: "cluster-ips", elements: [NFTLowLevelElement(key: clusterIP.bytes)]),
            ]
            out += writeEndpoints(&s, old: [])
            out += dispatch(s, add: true)
            services[index] = s
            return out
        }

        /// The service's dispatch elements: `service-ips` with endpoints, `no-endpoint-services` without.
        func dispatch(_ s: Service, add: Bool) -> [NFTChange] {
            let f = s.family
            let name = "ns\(s.index % 3)/svc\(s.index):p"
            var out: [NFTChange] = []
            func put(_ set: String, _ elements: [NFTLowLevelElement]) {
                out.append(add ? .newElements(family: f, table: t, set: set, elements: elements) : .delElements(family: f, table: t, set: set, elements: elements))
            }
            if s.endpoints.isEmpty {
                put("no-endpoint-services", [element(dispatchKey(s, s.clusterIP), goto: "mark-for-reject", comment: name)]
                    + (s.externalIP.map { [element(dispatchKey(s, $0), goto: "mark-for-reject", comment: name)] } ?? []))
                if let p = s.nodePort { put("no-endpoint-nodeports", [element(nodePortKey(p), goto: "mark-for-reject", comment: name)]) }
            } else {
                put("service-ips", [element(dispatchKey(s, s.clusterIP), goto: serviceChain(s))]
                    + (s.externalIP.map { [element(dispatchKey(s, $0), goto: externalChain(s))] } ?? []))
                if let p = s.nodePort { put("service-nodeports", [element(nodePortKey(p), goto: externalChain(s))]) }
            }
            return out
        }

        mutating func changeEndpoints(_ key: Int) -> [NFTChange] {
            var s = services[key]!
            let old = s.endpoints
            var out = dispatch(s, add: false)
            var next = old
            if !next.isEmpty && rng.next() % 2 == 0 { next.remove(at: Int(rng.next() % UInt64(next.count))) }
            if rng.next() % 2 == 0 { next += endpoints(for: s, count: 1, salt: rng.next()) }
            s.endpoints = Array(Set(next)).sorted()
            out += writeEndpoints(&s, old: old)
            for e in old where !s.endpoints.contains(e) {
                let c = endpointChain(s, e)
                out += flushLater(s.family, c, rules: ruleHandles[c] ?? [])
            }
            out += dispatch(s, add: true)
            services[key] = s
            return out
        }

        mutating func removeService(_ key: Int) -> [NFTChange] {
            var s = services.removeValue(forKey: key)!
            var out = dispatch(s, add: false)
            out.append(.delElements(family: s.family, table: t, set: "cluster-ips", elements: [NFTLowLevelElement(key: s.clusterIP.bytes)]))
            if s.firewalled, let ip = s.externalIP {
                out.append(.delElements(family: s.family, table: t, set: "firewall-ips", elements: [element(dispatchKey(s, ip), goto: "firewall")]))
            }
            let old = s.endpoints
            s.endpoints = []
            out += writeEndpoints(&s, old: old)
            var chains = [serviceChain(s)] + old.map { endpointChain(s, $0) }
            if s.externalIP != nil || s.nodePort != nil { chains.append(externalChain(s)) }
            for c in chains { out += flushLater(s.family, c, rules: (ruleHandles[c] ?? []) + (c == serviceChain(s) ? [] : [])) }
            return out
        }

        mutating func ensureExternalChain(_ s: Service) -> [NFTChange] {
            guard s.externalIP == nil && s.nodePort == nil else { return [] }
            let c = externalChain(s)
            return [.newChain(family: s.family, table: t, chain: c),
                    .newRule(family: s.family, table: t, rule: NFTLowLevelRule(chain: c, handle: handle(), expressions: [.immediateVerdict(code: -4, chain: serviceChain(s))]))]
        }

        mutating func toggleExternal(_ key: Int) -> [NFTChange] {
            var s = services[key]!
            var out = dispatch(s, add: false)
            if let ip = s.externalIP {
                if s.firewalled {
                    out.append(.delElements(family: s.family, table: t, set: "firewall-ips", elements: [element(dispatchKey(s, ip), goto: "firewall")]))
                }
                s.externalIP = nil
                s.firewalled = false
                if s.nodePort == nil { out += flushLater(s.family, externalChain(s), rules: ruleHandles[externalChain(s)] ?? []) }
            } else {
                out += ensureExternalChain(s)
                let ip = s.family == .ip ? IPAddress("192.0.2.\(s.index % 250 + 1)")! : IPAddress("2001:db8::\(s.index + 1)")!
                s.externalIP = ip
                s.firewalled = rng.next() % 2 == 0
                if s.firewalled {
                    out.append(.newElements(family: s.family, table: t, set: "firewall-ips", elements: [element(dispatchKey(s, ip), goto: "firewall")]))
                }
            }
            out += dispatch(s, add: true)
            services[key] = s
            return out
        }

        mutating func toggleNodePort(_ key: Int) -> [NFTChange] {
            var s = services[key]!
            var out = dispatch(s, add: false)
            if s.nodePort != nil {
                s.nodePort = nil
                if s.externalIP == nil { out += flushLater(s.family, externalChain(s), rules: ruleHandles[externalChain(s)] ?? []) }
            } else {
                out += ensureExternalChain(s)
                s.nodePort = UInt16(30000 + s.index)
            }
            out += dispatch(s, add: true)
            services[key] = s
            return out
        }
    }

    /// The reference: the same changes applied to plain register-level tables, then interpreted
    /// and walked in full.
    struct Reference {
        var tables: [NFTFamily: NFTLowLevelTable] = [:]

        mutating func apply(_ changes: [NFTChange]) {
            for change in changes where change.table == NFTRuleset.kubeProxyTable {
                let f = change.family
                switch change {
                case .newTable(_, let name): if tables[f] == nil { tables[f] = NFTLowLevelTable(family: f, name: name) }
                case .delTable: tables[f] = nil
                case .newChain(_, _, let c): if tables[f]?.chains.contains(c) == false { tables[f]!.chains.append(c) }
                case .delChain(_, _, let c): tables[f]?.chains.removeAll { $0 == c }
                case .newRule(_, _, let rule, let after):
                    if after == 0 {
                        tables[f]!.rules.insert(rule, at: 0)
                    } else if let after, let i = tables[f]!.rules.firstIndex(where: { $0.handle == after }) {
                        tables[f]!.rules.insert(rule, at: i + 1)
                    } else {
                        tables[f]!.rules.append(rule)
                    }
                case .delRule(_, _, _, let h): tables[f]?.rules.removeAll { $0.handle == h }
                case .newSet(_, _, let set):
                    if let i = tables[f]!.sets.firstIndex(where: { $0.name == set.name }) {
                        var merged = set
                        merged.elements = tables[f]!.sets[i].elements + set.elements
                        tables[f]!.sets[i] = merged
                    } else {
                        tables[f]!.sets.append(set)
                    }
                case .delSet(_, _, let name): tables[f]?.sets.removeAll { $0.name == name }
                case .newElements(_, _, let name, let elements):
                    let i = tables[f]!.sets.firstIndex { $0.name == name }!
                    for e in elements {
                        tables[f]!.sets[i].elements.removeAll { $0.key == e.key && $0.flags & 1 == e.flags & 1 }
                        tables[f]!.sets[i].elements.append(e)
                    }
                case .delElements(_, _, let name, let elements):
                    guard let i = tables[f]?.sets.firstIndex(where: { $0.name == name }) else { continue }
                    for e in elements { tables[f]!.sets[i].elements.removeAll { $0.key == e.key && $0.flags & 1 == e.flags & 1 } }
                }
            }
        }

        var snapshot: DataplaneSnapshot {
            NFTRuleset(tables: tables.values.sorted { $0.family < $1.family }.map { $0.semantic() }).kubeProxySnapshot()
        }
    }

    /// Applies `changes` to both, and checks the invariant: full walk, incremental answer, and the
    /// previous answer patched with `changed` all equal the reference.
    static func step(_ mirror: inout NFTMirror, _ reference: inout Reference, _ changes: [NFTChange], _ context: Comment = "") {
        let before = Dictionary(uniqueKeysWithValues: mirror.servicePorts.map { ($0.identity, $0) })
        let update = mirror.apply(changes)
        reference.apply(changes)
        let want = reference.snapshot
        #expect(update.inconsistencies.isEmpty, "\(update.inconsistencies) \(context)")
        #expect(mirror.snapshot() == want, context)
        #expect(mirror.servicePorts == want.servicePorts, context)
        var patched = before
        for (identity, port) in update.changed { patched[identity] = port }
        #expect(patched.values.sorted() == want.servicePorts, context)
        for (identity, port) in update.changed { #expect(before[identity] != port, "reported unchanged \(identity)") }
    }

    // MARK: Tests

    @Test("a table built by changes walks exactly like the same table read in full")
    func buildFromChanges() {
        var sim = Simulator(seed: 1)
        var mirror = NFTMirror()
        var reference = Reference()
        Self.step(&mirror, &reference, Self.baseTable(.ip) + Self.baseTable(.ip6))
        var changes: [NFTChange] = []
        for _ in 0..<20 { changes += sim.addService() }
        sim.record(changes)
        Self.step(&mirror, &reference, changes)
        #expect(mirror.servicePorts.count == 20)
    }

    @Test("hundreds of random kube-proxy syncs: the incremental answer always equals a full walk", arguments: [7, 11, 23] as [UInt64])
    func randomSyncs(seed: UInt64) {
        var sim = Simulator(seed: seed)
        var mirror = NFTMirror()
        var reference = Reference()
        Self.step(&mirror, &reference, Self.baseTable(.ip) + Self.baseTable(.ip6))
        for round in 0..<300 {
            Self.step(&mirror, &reference, sim.sync(), "seed \(seed) round \(round)")
        }
        #expect(!mirror.servicePorts.isEmpty)
    }

    @Test("removing one endpoint reports exactly that service port, with one fewer endpoint")
    func oneEndpoint() throws {
        var sim = Simulator(seed: 3)
        var mirror = NFTMirror()
        var reference = Reference()
        Self.step(&mirror, &reference, Self.baseTable(.ip))
        var s = Simulator.Service(index: 0, family: .ip, clusterIP: IPAddress("172.30.0.1")!, endpoints: [])
        s.endpoints = [EndpointAddress(ip: IPAddress("10.0.0.1")!, port: 80), EndpointAddress(ip: IPAddress("10.0.0.2")!, port: 80)]
        var changes: [NFTChange] = [.newChain(family: .ip, table: "kube-proxy", chain: sim.serviceChain(s))]
        changes += sim.writeEndpoints(&s, old: [])
        changes += sim.dispatch(s, add: true)
        sim.record(changes)
        Self.step(&mirror, &reference, changes)
        let old = s.endpoints
        s.endpoints = [old[1]]
        changes = sim.writeEndpoints(&s, old: old)
        let update = mirror.apply(changes)
        reference.apply(changes)
        #expect(update.changed.count == 1)
        let identity = RoutedServicePort(name: ServicePortName(namespace: "ns0", name: "svc0", port: "p"), protocol: .tcp, frontends: [], endpoints: []).identity
        let port = try #require(update.changed[identity] ?? nil, "\(update.changed.keys)")
        #expect(port.endpoints == [old[1]])
        #expect(update.entriesWalked == 1)
        #expect(mirror.snapshot() == reference.snapshot)
    }

    @Test("a table deleted (as DELTABLE alone, or object by object) and recreated reports nothing, then the new ports")
    func tableRecreated() {
        for perObject in [false, true] {
            var sim = Simulator(seed: 5)
            sim.families = [.ip]
            var mirror = NFTMirror()
            var reference = Reference()
            Self.step(&mirror, &reference, Self.baseTable(.ip))
            var changes: [NFTChange] = []
            for _ in 0..<5 { changes += sim.addService() }
            sim.record(changes)
            Self.step(&mirror, &reference, changes)
            var deletion: [NFTChange] = []
            if perObject {
                for rule in reference.tables[.ip]!.rules { deletion.append(.delRule(family: .ip, table: "kube-proxy", chain: rule.chain, handle: rule.handle)) }
                for set in reference.tables[.ip]!.sets { deletion.append(.delSet(family: .ip, table: "kube-proxy", set: set.name)) }
                for chain in reference.tables[.ip]!.chains { deletion.append(.delChain(family: .ip, table: "kube-proxy", chain: chain)) }
            }
            deletion.append(.delTable(family: .ip, table: "kube-proxy"))
            let update = mirror.apply(deletion)
            reference.apply(deletion)
            #expect(update.changed.count == 5 && update.changed.values.allSatisfy { $0 == nil })
            #expect(mirror.snapshot().servicePorts.isEmpty && mirror.servicePorts.isEmpty)
            #expect(!mirror.hasTable(.ip))
            var fresh = Simulator(seed: 6)
            fresh.families = [.ip]
            fresh.nextService = 100
            var recreate = Self.baseTable(.ip)
            for _ in 0..<3 { recreate += fresh.addService().filter { $0.family == .ip } }
            Self.step(&mirror, &reference, recreate)
        }
    }

    @Test("a firewall-ips element turns an external IP into a loadBalancer frontend, and back")
    func frontendKinds() throws {
        var sim = Simulator(seed: 8)
        sim.families = [.ip]
        var mirror = NFTMirror()
        var reference = Reference()
        Self.step(&mirror, &reference, Self.baseTable(.ip))
        var changes = sim.addService()
        sim.record(changes)
        Self.step(&mirror, &reference, changes)
        var s = sim.services[0]!
        s.endpoints = [EndpointAddress(ip: IPAddress("10.1.1.1")!, port: 80)]
        changes = sim.writeEndpoints(&s, old: sim.services[0]!.endpoints)
        sim.services[0] = s
        changes += sim.ensureExternalChain(s)
        let ip = IPAddress("192.0.2.9")!
        changes.append(.newElements(family: .ip, table: "kube-proxy", set: "service-ips", elements: [sim.element(sim.dispatchKey(s, ip), goto: sim.externalChain(s))]))
        changes.append(.delElements(family: .ip, table: "kube-proxy", set: "no-endpoint-services", elements: [sim.element(sim.dispatchKey(s, s.clusterIP), goto: "x")]))
        changes.append(.newElements(family: .ip, table: "kube-proxy", set: "service-ips", elements: [sim.element(sim.dispatchKey(s, s.clusterIP), goto: sim.serviceChain(s))]))
        Self.step(&mirror, &reference, changes)
        #expect(mirror.servicePorts.first?.frontends.contains(Frontend(kind: .externalIP, ip: ip, port: 80)) == true)
        let firewall = NFTChange.newElements(family: .ip, table: "kube-proxy", set: "firewall-ips", elements: [sim.element(sim.dispatchKey(s, ip), goto: "f")])
        Self.step(&mirror, &reference, [firewall])
        #expect(mirror.servicePorts.first?.frontends.contains(Frontend(kind: .loadBalancer, ip: ip, port: 80)) == true)
        Self.step(&mirror, &reference, [.newElements(family: .ip, table: "kube-proxy", set: "cluster-ips", elements: [NFTLowLevelElement(key: ip.bytes)])])
        #expect(mirror.servicePorts.first?.frontends.contains(Frontend(kind: .clusterIP, ip: ip, port: 80)) == true)
        Self.step(&mirror, &reference, [.delElements(family: .ip, table: "kube-proxy", set: "cluster-ips", elements: [NFTLowLevelElement(key: ip.bytes)]),
                                        .delElements(family: .ip, table: "kube-proxy", set: "firewall-ips", elements: [sim.element(sim.dispatchKey(s, ip), goto: "f")])])
        #expect(mirror.servicePorts.first?.frontends.contains(Frontend(kind: .externalIP, ip: ip, port: 80)) == true)
    }

    @Test("kube-proxy re-adding its unchanged maps every sync (NEWSET of an existing set) walks nothing again")
    func unchangedSetReadded() {
        var sim = Simulator(seed: 4)
        var mirror = NFTMirror()
        var reference = Reference()
        Self.step(&mirror, &reference, Self.baseTable(.ip) + Self.baseTable(.ip6))
        for _ in 0..<20 { Self.step(&mirror, &reference, sim.sync()) }
        let readd = Self.baseTable(.ip).filter { if case .newSet = $0 { true } else { false } }
        let update = mirror.apply(readd)
        #expect(update.entriesWalked == 0 && update.changed.isEmpty && update.inconsistencies.isEmpty)
        #expect(mirror.snapshot() == reference.snapshot)
    }

    @Test("a rule in an unknown chain, elements of an unknown set and a flush without elements are inconsistencies")
    func inconsistencies() {
        var mirror = NFTMirror()
        _ = mirror.apply(Self.baseTable(.ip))
        let t = "kube-proxy"
        #expect(!mirror.apply([.newRule(family: .ip, table: t, rule: NFTLowLevelRule(chain: "nope", handle: 1, expressions: []))]).inconsistencies.isEmpty)
        #expect(!mirror.apply([.newElements(family: .ip, table: t, set: "nope", elements: [NFTLowLevelElement(key: [1])])]).inconsistencies.isEmpty)
        #expect(!mirror.apply([.delElements(family: .ip, table: t, set: "service-ips", elements: [])]).inconsistencies.isEmpty)
        #expect(!mirror.apply([.newChain(family: .ip6, table: t, chain: "c")]).inconsistencies.isEmpty)
        // Deleting what is not there is harmless (events of a table deleted object by object).
        #expect(mirror.apply([.delRule(family: .ip, table: t, chain: "nope", handle: 9), .delSet(family: .ip6, table: t, set: "x")]).inconsistencies.isEmpty)
    }

    @Test("tables other than ip/ip6 kube-proxy are ignored")
    func foreignTables() {
        var mirror = NFTMirror()
        let update = mirror.apply([.newTable(family: .inet, table: "kube-proxy"), .newTable(family: .ip, table: "filter"),
                                   .newChain(family: .ip, table: "filter", chain: "c")])
        #expect(update.inconsistencies.isEmpty && update.changed.isEmpty)
        #expect(!mirror.hasTable(.ip))
    }

    @Test("a mirror started from a full read's dump equals one built by changes, and keeps following")
    func fromDump() {
        var sim = Simulator(seed: 12)
        var built = NFTMirror()
        var reference = Reference()
        Self.step(&built, &reference, Self.baseTable(.ip) + Self.baseTable(.ip6))
        for _ in 0..<30 { Self.step(&built, &reference, sim.sync()) }
        let dump = reference.tables.values.map { table in
            var rules: [String: [NFTRule]] = [:]
            let sets = Dictionary(uniqueKeysWithValues: table.sets.map { ($0.name, $0) })
            for rule in table.rules { rules[rule.chain, default: []].append(NFTLowLevelTable.semanticRule(rule, sets: sets)) }
            return NFTMirrorTableDump(family: table.family, name: table.name, chains: table.chains, sets: table.sets, rules: rules)
        }
        var mirror = NFTMirror(dump: dump)
        #expect(mirror.snapshot() == reference.snapshot)
        #expect(mirror.servicePorts == reference.snapshot.servicePorts)
        for round in 0..<50 { Self.step(&mirror, &reference, sim.sync(), "round \(round)") }
    }

    @Test("rules inserted first, after another rule, or appended keep the kernel's order (warnings come out in it)")
    func ruleOrder() {
        var mirror = NFTMirror()
        var reference = Reference()
        let t = "kube-proxy"
        let chain = "service-AAAAAAAA-a/s/tcp/p"
        func jump(_ handle: UInt64, _ target: String) -> NFTLowLevelRule {
            NFTLowLevelRule(chain: chain, handle: handle, expressions: [.immediateVerdict(code: -3, chain: target)])
        }
        var changes = Self.baseTable(.ip)
        changes += [
            .newChain(family: .ip, table: t, chain: chain),
            .newElements(family: .ip, table: t, set: "service-ips", elements: [
                NFTLowLevelElement(key: IPAddress("172.30.0.1")!.bytes + [6, 0, 0, 0, 0, 80, 0, 0], verdict: -4, chain: chain)
            ]),
            .newRule(family: .ip, table: t, rule: jump(1, "missing-b")),
            .newRule(family: .ip, table: t, rule: jump(2, "missing-d")),
        ]
        Self.step(&mirror, &reference, changes)
        Self.step(&mirror, &reference, [.newRule(family: .ip, table: t, rule: jump(3, "missing-a"), after: 0)])
        Self.step(&mirror, &reference, [.newRule(family: .ip, table: t, rule: jump(4, "missing-c"), after: 1)])
        #expect(mirror.snapshot().warnings.map { $0.split(separator: " ")[4] } == ["missing-a", "missing-b", "missing-c", "missing-d"])
    }

    @Test("a named data map used by a dnat is interpreted again when its elements change")
    func namedDataMap() {
        var mirror = NFTMirror()
        var reference = Reference()
        let t = "kube-proxy"
        let chain = "service-AAAAAAAA-a/s/tcp/p"
        let map = NFTLowLevelSet(name: "targets", flags: NFTLowLevelSet.mapFlag, keyType: NFTDataType.integer, keyLength: 4,
                                 dataType: (NFTDataType.ipv4Address << 6) | NFTDataType.inetService, dataLength: 8, keyByteOrder: 1)
        var changes = Self.baseTable(.ip)
        changes += [
            .newChain(family: .ip, table: t, chain: chain),
            .newSet(family: .ip, table: t, set: map),
            .newElements(family: .ip, table: t, set: "targets", elements: [NFTLowLevelElement(key: [0, 0, 0, 0], data: [10, 0, 0, 1, 0, 80, 0, 0])]),
            .newRule(family: .ip, table: t, rule: NFTLowLevelRule(chain: chain, handle: 5, expressions: [
                .numgen(dreg: 8, modulus: 1, type: 1, offset: 0), .lookup(set: "targets", sreg: 8, dreg: 8, inverted: false),
                .nat(type: 1, family: 2, addressRegister: 8, portRegister: 9),
            ])),
            .newElements(family: .ip, table: t, set: "service-ips", elements: [
                NFTLowLevelElement(key: IPAddress("172.30.0.1")!.bytes + [6, 0, 0, 0, 0, 80, 0, 0], verdict: -4, chain: chain)
            ]),
        ]
        Self.step(&mirror, &reference, changes)
        Self.step(&mirror, &reference, [.newElements(family: .ip, table: t, set: "targets", elements: [NFTLowLevelElement(key: [1, 0, 0, 0], data: [10, 0, 0, 2, 0, 80, 0, 0])])])
        #expect(mirror.servicePorts.first?.endpoints.count == 2)
    }
}
