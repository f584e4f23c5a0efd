import Foundation
import SettleDataplane
import SettleDataplaneLinux
import SettleKubeProxyRules
import SettleModel
import Synchronization
import Testing

/// The change-event monitor against a real kernel: after every `nft -f`, the answer it built from
/// events must equal a fresh full read of the same namespace.
@Suite(.serialized, requiresRoot)
struct NFTablesMonitorTests {
    /// The monitor's answer as a consumer builds it: full snapshots replace it, incremental
    /// updates patch it.
    final class Follower: Sendable {
        struct State {
            var ports: [String: RoutedServicePort] = [:]
            var kinds: [NFTablesMonitorUpdate.Kind] = []
            var incremental = 0
        }

        final class Box: Sendable { let state = Mutex(State()) }
        let box = Box()
        let task: Task<Void, any Error>

        init(_ monitor: NFTablesMonitor) {
            let box = self.box
            task = Task {
                for try await update in monitor.updates() {
                    box.state.withLock { s in
                        s.kinds.append(update.kind)
                        switch update.kind {
                        case .full:
                            s.ports = Dictionary(uniqueKeysWithValues: (update.snapshot?.servicePorts ?? []).map { ($0.identity, $0) })
                        case .incremental:
                            s.incremental += 1
                            for (identity, port) in update.changed { s.ports[identity] = port }
                        }
                    }
                }
            }
        }

        var ports: [RoutedServicePort] { box.state.withLock { $0.ports.values.sorted() } }
        var kinds: [NFTablesMonitorUpdate.Kind] { box.state.withLock { $0.kinds } }

        /// Waits until the monitor's answer equals a fresh full read (a failure after 30 s).
        func converge(_ ns: TestNamespace, _ comment: Comment = "") async throws {
            let deadline = ContinuousClock.now + TestTime.scaled(.seconds(30))
            var fresh: DataplaneSnapshot
            repeat {
                fresh = try await NFTablesReader(netns: ns.name).read()
                if !kinds.isEmpty && ports == fresh.servicePorts { return }
                try await Task.sleep(for: .milliseconds(20))
            } while ContinuousClock.now < deadline
            #expect(ports == fresh.servicePorts, comment)
        }

        /// Waits until an update of the given kind arrived (a failure after 30 s).
        func waitFor(_ kind: NFTablesMonitorUpdate.Kind, _ comment: Comment = "") async throws {
            let deadline = ContinuousClock.now + TestTime.scaled(.seconds(30))
            while ContinuousClock.now < deadline {
                if kinds.contains(kind) { return }
                try await Task.sleep(for: .milliseconds(20))
            }
            Issue.record("no \(kind) update: \(kinds) \(comment)")
        }
    }

    static let svc1 = "service-ULMVA6XW-ns1/svc1/tcp/p80"
    static let svc3 = "service-DDDDDDDD-ns3/svc3/tcp/http"

    @Test("kube-proxy-style syncs, one nft -f each: after every one the incremental answer equals a fresh full read")
    func syncSequence() async throws {
        let ns = try TestNamespace()
        let follower = Follower(NFTablesMonitor(netns: ns.name))
        defer { follower.task.cancel() }
        try await follower.waitFor(.full(reason: .initial))
        #expect(follower.ports.isEmpty)

        let t = "ip kube-proxy"
        let steps: [(String, String)] = [
            ("the whole fixture in one transaction", try NFTablesReaderTests.fixture("gen-a-endpoint-chains")),
            ("an endpoint removed: service chain rewritten, endpoint chain flushed", """
                flush chain \(t) \(Self.svc1)
                add rule \(t) \(Self.svc1) numgen random mod 1 vmap { 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 }
                flush chain \(t) endpoint-AAAAAAAA-ns1/svc1/tcp/p80__10.180.0.2/80
                """),
            ("next sync: stale chains deleted, an endpoint added", """
                delete chain \(t) endpoint-AAAAAAAA-ns1/svc1/tcp/p80__10.180.0.2/80
                delete chain \(t) endpoint-BBBBBBBB-ns1/svc1/tcp/p80__10.180.0.3/80
                add chain \(t) endpoint-EEEEEEEE-ns3/svc3/tcp/http__10.244.0.5/8080
                add rule \(t) endpoint-EEEEEEEE-ns3/svc3/tcp/http__10.244.0.5/8080 meta l4proto tcp dnat to 10.244.0.5:8080
                add chain \(t) endpoint-FFFFFFFF-ns3/svc3/tcp/http__10.244.0.6/8080
                add rule \(t) endpoint-FFFFFFFF-ns3/svc3/tcp/http__10.244.0.6/8080 meta l4proto tcp dnat to 10.244.0.6:8080
                flush chain \(t) \(Self.svc3)
                add rule \(t) \(Self.svc3) numgen random mod 2 vmap { 0 : goto endpoint-EEEEEEEE-ns3/svc3/tcp/http__10.244.0.5/8080, 1 : goto endpoint-FFFFFFFF-ns3/svc3/tcp/http__10.244.0.6/8080 }
                """),
            ("a service added; the table, its maps and a chain re-added unchanged, as every kube-proxy sync does", """
                add table \(t) { comment "rules for kube-proxy"; }
                add map \(t) service-ips { type ipv4_addr . inet_proto . inet_service : verdict; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic"; }
                add set \(t) cluster-ips { type ipv4_addr; comment "Active ClusterIPs"; }
                add chain \(t) \(Self.svc1)
                add chain \(t) service-GGGGGGGG-ns5/svc5/tcp/p
                add rule \(t) service-GGGGGGGG-ns5/svc5/tcp/p meta l4proto tcp dnat to 10.244.5.1:80
                add element \(t) cluster-ips { 172.30.0.45 }
                add element \(t) service-ips { 172.30.0.45 . tcp . 80 : goto service-GGGGGGGG-ns5/svc5/tcp/p }
                """),
            ("a service removed, and a no-endpoint service gains an endpoint", """
                delete element \(t) service-ips { 172.30.0.42 . udp . 53 }
                delete element \(t) cluster-ips { 172.30.0.42 }
                flush chain \(t) service-CCCCCCCC-ns2/svc2/udp/
                delete element \(t) no-endpoint-services { 172.30.0.44 . tcp . 80 }
                add chain \(t) service-HHHHHHHH-ns4/svc4/tcp/p80
                add rule \(t) service-HHHHHHHH-ns4/svc4/tcp/p80 meta l4proto tcp dnat to 10.244.4.4:80
                add element \(t) service-ips { 172.30.0.44 . tcp . 80 : goto service-HHHHHHHH-ns4/svc4/tcp/p80 }
                """),
            ("next sync: the removed service's chain deleted; a map element replaced in place", """
                delete chain \(t) service-CCCCCCCC-ns2/svc2/udp/
                delete element \(t) service-ips { 172.30.0.45 . tcp . 80 }
                add element \(t) service-ips { 172.30.0.45 . tcp . 80 : goto \(Self.svc3) }
                """),
            ("an ip6 table", """
                table ip6 kube-proxy {
                  map service-ips { type ipv6_addr . inet_proto . inet_service : verdict; }
                  set cluster-ips { type ipv6_addr; }
                  chain service-ULMVA6XW-ns1/svc1/tcp/p80 { meta l4proto tcp dnat ip6 addr . port to numgen random mod 2 map { 0 : fd00::1 . 80, 1 : fd00::2 . 80 }; }
                }
                add element ip6 kube-proxy cluster-ips { fd00:10:96::41 }
                add element ip6 kube-proxy service-ips { fd00:10:96::41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }
                """),
            ("an ip6 endpoint removed", """
                flush chain ip6 kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80
                add rule ip6 kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 meta l4proto tcp dnat to [fd00::2]:80
                """),
            ("a whole map flushed", "flush map \(t) service-nodeports\n"),
        ]
        for (what, script) in steps {
            try ns.nft(script)
            try await follower.converge(ns, "after: \(what)")
        }
        #expect(follower.kinds.dropFirst().allSatisfy { $0 == .incremental }, "\(follower.kinds)")
        #expect(follower.kinds.count > steps.count, "every step changed routing, so every step gave an update")
        #expect(!follower.ports.isEmpty)
    }

    /// Random kube-proxy-like syncs as `nft` text: per-endpoint chains (Gen A) or inline numgen
    /// maps (Gen B) per service, stale chains flushed in one sync and deleted in the next.
    struct KernelSimulator {
        struct Service {
            var endpoints: [String]
            var inlineMap: Bool
            var nodePort: Int?
        }

        var rng: SplitMix64
        var services: [Int: Service] = [:]
        var next = 0
        var stale: [String] = []
        let t = "ip kube-proxy"

        func chain(_ i: Int) -> String { "service-S\(String(format: "%07d", i))-ns\(i % 3)/svc\(i)/tcp/p" }
        func external(_ i: Int) -> String { "external-S\(String(format: "%07d", i))-ns\(i % 3)/svc\(i)/tcp/p" }
        func endpointChain(_ i: Int, _ e: String) -> String { "endpoint-E\(String(format: "%07d", i))-ns\(i % 3)/svc\(i)/tcp/p__\(e)/80" }
        func clusterIP(_ i: Int) -> String { "172.31.\(i / 250).\(i % 250 + 1)" }

        mutating func endpoints(_ i: Int) -> [String] {
            (0..<Int(rng.next() % 4)).map { _ in "10.\(i % 250).\(rng.next() % 250).\(rng.next() % 250 + 1)" }.uniqued()
        }

        /// The service chain's body and the endpoint chains it needs.
        func body(_ i: Int, _ s: Service, old: [String]) -> [String] {
            var lines = ["flush chain \(t) \(chain(i))"]
            guard !s.endpoints.isEmpty else { return lines }
            if s.inlineMap {
                let m = s.endpoints.enumerated().map { "\($0.offset) : \($0.element) . 80" }.joined(separator: ", ")
                lines.append("add rule \(t) \(chain(i)) meta l4proto tcp dnat ip addr . port to numgen random mod \(s.endpoints.count) map { \(m) }")
            } else {
                for e in s.endpoints where !old.contains(e) {
                    lines += ["add chain \(t) \(endpointChain(i, e))", "add rule \(t) \(endpointChain(i, e)) meta l4proto tcp dnat to \(e):80"]
                }
                let m = s.endpoints.enumerated().map { "\($0.offset) : goto \(endpointChain(i, $0.element))" }.joined(separator: ", ")
                lines.append("add rule \(t) \(chain(i)) numgen random mod \(s.endpoints.count) vmap { \(m) }")
            }
            return lines
        }

        func dispatch(_ i: Int, _ s: Service, add: Bool) -> [String] {
            let verb = add ? "add" : "delete"
            var lines: [String] = []
            if s.endpoints.isEmpty {
                lines.append("\(verb) element \(t) no-endpoint-services { \(clusterIP(i)) . tcp . 80 \(add ? "comment \"ns\(i % 3)/svc\(i):p\" : goto reject-chain" : "") }")
            } else {
                lines.append("\(verb) element \(t) service-ips { \(clusterIP(i)) . tcp . 80 \(add ? ": goto \(chain(i))" : "") }")
                if let p = s.nodePort { lines.append("\(verb) element \(t) service-nodeports { tcp . \(p) \(add ? ": goto \(external(i))" : "") }") }
            }
            return lines
        }

        mutating func sync() -> String {
            var lines = stale.map { "delete chain \(t) \($0)" }
            stale = []
            for _ in 0..<Int(rng.next() % 3 + 1) {
                let op = services.isEmpty ? 0 : rng.next() % 5
                if op <= 1 {
                    let i = next
                    next += 1
                    var s = Service(endpoints: [], inlineMap: rng.next() % 2 == 0, nodePort: rng.next() % 3 == 0 ? 31000 + i : nil)
                    s.endpoints = endpoints(i)
                    lines += ["add chain \(t) \(chain(i))", "add element \(t) cluster-ips { \(clusterIP(i)) }"]
                    if s.nodePort != nil { lines += ["add chain \(t) \(external(i))", "add rule \(t) \(external(i)) goto \(chain(i))"] }
                    lines += body(i, s, old: []) + dispatch(i, s, add: true)
                    services[i] = s
                    continue
                }
                let i = services.keys.sorted()[Int(rng.next() % UInt64(services.count))]
                var s = services[i]!
                let old = s.endpoints
                if op <= 3 {
                    lines += dispatch(i, s, add: false)
                    s.endpoints = endpoints(i) + (old.isEmpty || rng.next() % 2 == 0 ? [] : [old[0]])
                    s.endpoints = s.endpoints.uniqued()
                    lines += body(i, s, old: old)
                    if !s.inlineMap {
                        for e in old where !s.endpoints.contains(e) {
                            lines.append("flush chain \(t) \(endpointChain(i, e))")
                            stale.append(endpointChain(i, e))
                        }
                    }
                    lines += dispatch(i, s, add: true)
                    services[i] = s
                } else {
                    lines += dispatch(i, s, add: false) + ["delete element \(t) cluster-ips { \(clusterIP(i)) }", "flush chain \(t) \(chain(i))"]
                    stale.append(chain(i))
                    if s.nodePort != nil {
                        lines.append("flush chain \(t) \(external(i))")
                        stale.append(external(i))
                    }
                    if !s.inlineMap {
                        for e in old {
                            lines.append("flush chain \(t) \(endpointChain(i, e))")
                            stale.append(endpointChain(i, e))
                        }
                    }
                    services[i] = nil
                }
            }
            return lines.joined(separator: "\n") + "\n"
        }
    }

    @Test("forty random kube-proxy-like syncs in a real kernel: after each, the incremental answer equals a fresh full read")
    func randomSyncs() async throws {
        let ns = try TestNamespace()
        try ns.nft(try NFTablesReaderTests.fixture("gen-a-endpoint-chains"))
        let follower = Follower(NFTablesMonitor(netns: ns.name))
        defer { follower.task.cancel() }
        try await follower.waitFor(.full(reason: .initial))
        var sim = KernelSimulator(rng: SplitMix64(seed: 2026))
        for round in 0..<40 {
            let script = sim.sync()
            try ns.nft(script)
            try await follower.converge(ns, "round \(round):\n\(script)")
        }
        #expect(follower.kinds.dropFirst().allSatisfy { $0 == .incremental }, "\(follower.kinds)")
        #expect(follower.ports.count > 4)
    }

    @Test("the initial snapshot equals a full read of a ruleset loaded before the monitor started")
    func initialSnapshot() async throws {
        let ns = try TestNamespace()
        try ns.nft(try NFTablesReaderTests.fixture("gen-b-inline-map-dual-stack"))
        let fresh = try await NFTablesReader(netns: ns.name).read()
        var updates = NFTablesMonitor(netns: ns.name).updates().makeAsyncIterator()
        let first = try #require(try await updates.next())
        #expect(first.kind == .full(reason: .initial))
        #expect(first.snapshot?.servicePorts == fresh.servicePorts)
        #expect(first.snapshot?.warnings == fresh.warnings)
    }

    @Test("every writer layout loaded in batches while monitored, then replaced (tables deleted and recreated), follows exactly")
    func writerLayouts() async throws {
        let ns = try TestNamespace()
        let follower = Follower(NFTablesMonitor(netns: ns.name))
        defer { follower.task.cancel() }
        try await follower.waitFor(.full(reason: .initial))
        let ports = NFTablesWriterRoundTripTests.services(count: 60, seed: 42)
        for layout in NFTablesRuleWriter.Layout.allCases {
            let writer = NFTablesRuleWriter(layout: layout, statementsPerBatch: 200, replaceExisting: true)
            for batch in writer.batches(for: ports) { try ns.nft(batch) }
            try await follower.converge(ns, "\(layout)")
            #expect(follower.ports.count == ports.count, "\(layout)")
        }
        // Fewer services, then the table deleted and recreated empty.
        for batch in NFTablesRuleWriter(layout: .inlineMap, replaceExisting: true).batches(for: Array(ports.prefix(7))) { try ns.nft(batch) }
        try await follower.converge(ns, "7 services")
        try ns.nft("delete table ip kube-proxy\ndelete table ip6 kube-proxy\n")
        try await follower.converge(ns, "tables deleted")
        #expect(follower.ports.isEmpty)
        try ns.nft(try NFTablesReaderTests.fixture("gen-a-endpoint-chains"))
        try await follower.converge(ns, "recreated")
        #expect(follower.kinds.dropFirst().allSatisfy { $0 == .incremental }, "\(follower.kinds)")
    }

    @Test("a receive buffer too small for a batch loses events: a full read with reason overflow, and correct state after")
    func overflow() async throws {
        let ns = try TestNamespace()
        let follower = Follower(NFTablesMonitor(netns: ns.name, receiveBufferBytes: 4096, forceReceiveBuffer: false))
        defer { follower.task.cancel() }
        try await follower.waitFor(.full(reason: .initial))
        let ports = NFTablesWriterRoundTripTests.services(count: 300, seed: 9)
        // The kernel queues a commit's events in a burst; whether the thread drains between two
        // of its datagrams is up to the scheduler, so load again until events were lost.
        let writer = NFTablesRuleWriter(layout: .endpointChains, statementsPerBatch: nil, replaceExisting: true)
        for _ in 0..<10 {
            for batch in writer.batches(for: ports) { try ns.nft(batch) }
            try await Task.sleep(for: .milliseconds(200))
            if follower.kinds.contains(.full(reason: .overflow)) { break }
        }
        try await follower.waitFor(.full(reason: .overflow))
        try await follower.converge(ns, "after the overflow")
        #expect(follower.ports.count == ports.count)
    }

    @Test("a periodic full read replaces the answer with the same one")
    func periodic() async throws {
        let ns = try TestNamespace()
        try ns.nft(try NFTablesReaderTests.fixture("gen-a-endpoint-chains"))
        let follower = Follower(NFTablesMonitor(netns: ns.name, resyncInterval: .milliseconds(200)))
        defer { follower.task.cancel() }
        try await follower.waitFor(.full(reason: .periodic))
        try await follower.converge(ns)
    }

    @Test("cancelling the consuming task ends the stream")
    func cancellation() async throws {
        let ns = try TestNamespace()
        let follower = Follower(NFTablesMonitor(netns: ns.name))
        try await follower.waitFor(.full(reason: .initial))
        follower.task.cancel()
        try await follower.task.value
        // The monitor stopped with the stream: a change now reaches nobody, and nothing hangs.
        try ns.nft("add table ip kube-proxy\n")
    }

    @Test("a namespace that does not exist ends the stream with namespaceNotFound")
    func missingNamespace() async throws {
        var updates = NFTablesMonitor(netns: "settle-no-such-ns").updates().makeAsyncIterator()
        await #expect(throws: DataplaneError.namespaceNotFound("settle-no-such-ns")) { _ = try await updates.next() }
    }
}

extension Array where Element: Hashable {
    fileprivate func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
