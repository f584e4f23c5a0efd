import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SettleAPIServer
import SettleKube
import SettleKubeClient
import SettleModel
import SettleSelection

#if canImport(Glibc)
import Glibc
#endif

/// `settle bench desired`: the cost of kube-proxy's desired state at cluster scale (issue 3, brief §4).
///
/// Starts the stand-in API server in this process on 127.0.0.1, fills it with a synthetic cluster
/// (Services, EndpointSlices of at most 100 endpoints as the EndpointSlice controller cuts them,
/// Nodes) and measures, in the same run: (a) fetching the raw LIST bodies over HTTP without
/// decoding — the baseline; (b) listing through the production client and informers (decoding into
/// typed objects) and building the ``DesiredStateCache``; (c) computing the desired state for one
/// node from scratch; (d) applying one slice update through the cache. (c) and (d) are repeated on a
/// cluster ten times smaller, to show that a full recompute grows with the cluster and a slice
/// update does not. Needs no root.
struct DesiredBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "desired",
        abstract: "Measure loading, computing and updating kube-proxy's desired state at cluster scale.")

    @Option(help: "Number of Services.")
    var services = 10_000

    @Option(help: "Endpoints in all EndpointSlices together.")
    var endpoints = 150_000

    @Option(help: "Number of Nodes (endpoints are spread over them; zones are zone-a/b/c).")
    var nodes = 5_000

    @Option(help: "Slice updates applied through the cache per measurement (the median is reported).")
    var updates = 1_000

    @Option(help: "Runs of (a), (b) and (c); the median is reported.")
    var repetitions = 3

    @Option(help: "Seed of the synthetic cluster.")
    var seed: UInt64 = 1

    @Option(help: "Also write the report (Markdown) to this file.")
    var out: String?

    func validate() throws {
        guard services >= 10, nodes >= 10 else { throw ValidationError("--services and --nodes must be at least 10 (the small run uses a tenth)") }
        guard endpoints >= services else { throw ValidationError("--endpoints must be at least --services (every Service gets one)") }
        guard updates > 0, repetitions > 0 else { throw ValidationError("--updates and --repetitions must be positive") }
    }

    func run() async throws {
        var quiet = Logger(label: "settle.bench")
        quiet.logLevel = .critical
        let node = NodeTopology(name: "node-0", labels: [V1Node.zoneLabel: BenchCluster.zones[0]])
        let startRSS = Memory.now()

        Terminal.note("generating \(services) services / \(endpoints) endpoints …")
        let cluster = BenchCluster(services: services, endpoints: endpoints, nodes: nodes, seed: seed)
        let server = APIServer(configuration: APIServerConfiguration(host: "127.0.0.1", port: 0), logger: quiet)
        let report = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            defer { group.cancelAll() }
            let port = try await server.waitForPort()
            Terminal.note("filling the stand-in API server on port \(port) …")
            let fillStart = ContinuousClock.now
            try await cluster.fill(server.state)
            let fill = ContinuousClock.now - fillStart
            let afterFill = Memory.now()
            return try await measure(cluster: cluster, port: port, node: node, logger: quiet, fill: fill, memory: (startRSS, afterFill))
        }
        print(report, terminator: "")
        if let out { try report.write(toFile: out, atomically: true, encoding: .utf8) }
    }

    // MARK: - Phases

    private func measure(
        cluster: BenchCluster, port: Int, node: NodeTopology, logger: Logger, fill: Duration, memory: (Memory, Memory)
    ) async throws -> String {
        let url = "http://127.0.0.1:\(port)"

        Terminal.note("(a) raw LIST bodies …")
        let before = Memory.now()
        var rawRuns: [Double] = []
        var rawBytes = 0
        for _ in 0..<repetitions {
            let start = ContinuousClock.now
            rawBytes = try await RawList.fetch(server: url, paths: [V1Service.collectionPath, V1EndpointSlice.collectionPath])
            rawRuns.append(Self.seconds(ContinuousClock.now - start))
        }
        let raw = Phase(seconds: Self.median(rawRuns), before: before, after: Memory.now())

        Terminal.note("(b) informers: list and decode, then build the cache …")
        var loadRuns: [Double] = []
        var buildRuns: [Double] = []
        var loaded: (services: [V1Service], slices: [V1EndpointSlice]) = ([], [])
        var cache = DesiredStateCache(node: node)
        let beforeLoad = Memory.now()
        var afterLoad = beforeLoad
        for run in 0..<repetitions {
            loaded = ([], [])
            cache = DesiredStateCache(node: node)
            let start = ContinuousClock.now
            loaded = try await Self.listThroughInformers(server: url, logger: logger)
            loadRuns.append(Self.seconds(ContinuousClock.now - start))
            if run == 0 { afterLoad = Memory.now() }
            let buildStart = ContinuousClock.now
            cache = DesiredStateCache(services: loaded.services, slices: loaded.slices, node: node)
            buildRuns.append(Self.seconds(ContinuousClock.now - buildStart))
        }
        let load = Phase(seconds: Self.median(loadRuns), before: beforeLoad, after: afterLoad)
        let build = Phase(seconds: Self.median(buildRuns), before: afterLoad, after: Memory.now())
        guard loaded.services.count == cluster.services.count, loaded.slices.count == cluster.slices.count else {
            throw BenchError("informers listed \(loaded.services.count) services / \(loaded.slices.count) slices, expected \(cluster.services.count) / \(cluster.slices.count)")
        }

        Terminal.note("(c) full compute, (d) slice updates …")
        let large = try Self.computeAndUpdate(
            services: loaded.services, slices: loaded.slices, cache: &cache, node: node, cluster: cluster,
            updates: updates, repetitions: repetitions, seed: seed)

        Terminal.note("the same at a tenth of the size …")
        let small = BenchCluster(services: services / 10, endpoints: endpoints / 10, nodes: nodes / 10, seed: seed)
        var smallCache = DesiredStateCache(services: small.services, slices: small.slices, node: node)
        let smallResult = try Self.computeAndUpdate(
            services: small.services, slices: small.slices, cache: &smallCache, node: node, cluster: small,
            updates: updates, repetitions: repetitions, seed: seed)

        return render(
            cluster: cluster, small: small, node: node, fill: fill, memory: memory, rawBytes: rawBytes, raw: raw,
            load: load, build: build, large: large, smallResult: smallResult)
    }

    /// Lists Services and EndpointSlices with kube-proxy's selector through two informers until both
    /// have synced, as the agent does at start-up; returns their caches.
    static func listThroughInformers(server: String, logger: Logger) async throws -> (services: [V1Service], slices: [V1EndpointSlice]) {
        let client = try KubeClient(configuration: KubeClientConfiguration(server: server, requestTimeout: .seconds(300)), logger: logger)
        let services = Informer<V1Service>(client: client, selection: .kubeProxy, logger: logger)
        let slices = Informer<V1EndpointSlice>(client: client, selection: .kubeProxy, logger: logger)
        let result = await withTaskGroup(of: Void.self) { group in
            group.addTask { await services.run() }
            group.addTask { await slices.run() }
            for await event in services.events { if case .synced = event { break } }
            for await event in slices.events { if case .synced = event { break } }
            let result = (await services.objects, await slices.objects)
            group.cancelAll()
            return result
        }
        try await client.shutdown()
        return result
    }

    /// Results of (c) and (d) on one cluster.
    struct ComputeResult {
        var compute: Phase
        var servicePorts: Int
        var desiredEndpoints: Int
        /// Per update, seconds: a uniformly chosen Service's slice.
        var typical: [Double]
        /// Per update, seconds: a slice of the largest Service.
        var largest: [Double]
        var memoryAfterUpdates: Memory
    }

    /// (c) `DesiredState.compute` from scratch, checked against the cache; (d) slice updates applied
    /// through the cache one at a time, then the cache checked against a full recompute again.
    static func computeAndUpdate(
        services: [V1Service], slices: [V1EndpointSlice], cache: inout DesiredStateCache, node: NodeTopology,
        cluster: BenchCluster, updates: Int, repetitions: Int, seed: UInt64
    ) throws -> ComputeResult {
        let before = Memory.now()
        var runs: [Double] = []
        var full: [DesiredServicePort] = []
        for _ in 0..<repetitions {
            full = []
            let start = ContinuousClock.now
            full = DesiredState.compute(services: services, slices: slices, node: node)
            runs.append(seconds(ContinuousClock.now - start))
        }
        let compute = Phase(seconds: median(runs), before: before, after: Memory.now())
        // The answer must be right before its speed matters.
        guard cache.servicePorts == full else { throw BenchError("the cache differs from a full recompute after loading") }

        var random = SplitMix64(seed: seed &+ 99)
        let typicalUpdates = cluster.sliceUpdates(count: updates, in: cache, largestOnly: false, using: &random)
        let largestUpdates = cluster.sliceUpdates(count: max(updates / 10, 1), in: cache, largestOnly: true, using: &random)
        var changed = 0
        let typical = typicalUpdates.map { slice in
            let start = ContinuousClock.now
            changed += cache.apply(.sliceUpserted(slice)).count
            return seconds(ContinuousClock.now - start)
        }
        let largest = largestUpdates.map { slice in
            let start = ContinuousClock.now
            changed += cache.apply(.sliceUpserted(slice)).count
            return seconds(ContinuousClock.now - start)
        }
        let memory = Memory.now()
        guard changed > 0,
            cache.servicePorts
                == DesiredState.compute(services: Array(cache.services.values), slices: Array(cache.slices.values), node: node)
        else { throw BenchError("the cache differs from a full recompute after \(typical.count + largest.count) slice updates") }
        return ComputeResult(
            compute: compute, servicePorts: full.count, desiredEndpoints: full.reduce(0) { $0 + $1.endpoints.count },
            typical: typical, largest: largest, memoryAfterUpdates: memory)
    }

    // MARK: - Report

    /// Wall time of one phase and the process's memory around it.
    struct Phase {
        var seconds: Double
        var before: Memory
        var after: Memory
    }

    private func render(
        cluster: BenchCluster, small: BenchCluster, node: NodeTopology, fill: Duration, memory: (Memory, Memory),
        rawBytes: Int, raw: Phase, load: Phase, build: Phase, large: ComputeResult, smallResult: ComputeResult
    ) -> String {
        #if DEBUG
        let buildKind = "debug build"
        #else
        let buildKind = "release build"
        #endif
        var out = "# settle bench desired\n\n"
        out += "Command: `settle bench desired --services \(services) --endpoints \(endpoints) --nodes \(nodes) --updates \(updates) --repetitions \(repetitions) --seed \(seed)`\n"
        out += "(\(buildKind), \(DataplaneBench.hostLine()); stand-in API server and client in the same process on 127.0.0.1).\n\n"
        out += "Cluster: \(cluster.summary). Node `\(node.name)` (\(node.zone)).\n"
        out += "Filling the stand-in took \(DataplaneBench.format(fill)); the process then held \(Self.mb(memory.1.current)) "
        out += "(\(Self.mb(memory.0.current)) before), mostly the stand-in's JSON store: RSS figures below include it.\n\n"

        out += "## Load, compute, update (\(cluster.services.count) services, \(cluster.endpointCount) endpoints)\n\n"
        out += "Wall time is the median of \(repetitions) runs for (a)–(c) and of \(large.typical.count) updates for (d). "
        out += "Peak RSS is `getrusage` `ru_maxrss` after the phase's first run; Δ RSS is the change of current RSS over it.\n\n"
        out += "| phase | wall | peak RSS | Δ RSS | vs (a) |\n|---|---:|---:|---:|---:|\n"
        let rows: [(String, Phase)] = [
            ("(a) LIST bodies over HTTP, not decoded (baseline; \(Self.mb(rawBytes)), pages of 500)", raw),
            ("(b1) informers: LIST + decode into V1Service/V1EndpointSlice, until synced", load),
            ("(b2) build the DesiredStateCache (index + every Service computed)", build),
            ("(c) `DesiredState.compute` from scratch for one node", large.compute),
        ]
        for (name, phase) in rows {
            out += "| \(name) | \(Self.time(phase.seconds)) | \(Self.mb(phase.after.peak)) | \(Self.signedMB(phase.after.current - phase.before.current)) | \(DataplaneBench.ratio(phase.seconds / raw.seconds)) |\n"
        }
        let update = Self.median(large.typical)
        out += "| (d) one slice update through the cache (typical Service, median) | \(Self.time(update)) | \(Self.mb(large.memoryAfterUpdates.peak)) | – | \(String(format: "%.2g×", update / raw.seconds)) |\n\n"
        out += "Result on `\(node.name)`: \(large.servicePorts) service ports, \(large.desiredEndpoints) desired endpoints; "
        out += "the cache equals a full recompute after loading and after all updates ✓.\n"
        out += "Load to a complete desired state ((b1)+(b2)): \(Self.time(load.seconds + build.seconds)), "
        out += "\(DataplaneBench.ratio((load.seconds + build.seconds) / raw.seconds)) the baseline.\n\n"

        out += "## Scaling: \(small.services.count) vs \(cluster.services.count) services\n\n"
        out += "The small cluster is generated the same way (\(small.summary)) and built in memory (no HTTP).\n\n"
        out += "| measure | N/10 | N | N ÷ N/10 |\n|---|---:|---:|---:|\n"
        let scaling: [(String, Double, Double)] = [
            ("(c) full compute", smallResult.compute.seconds, large.compute.seconds),
            ("(d) slice update, typical Service, median", Self.median(smallResult.typical), Self.median(large.typical)),
            ("(d) slice update, typical Service, p90", Self.percentile(smallResult.typical, 0.9), Self.percentile(large.typical, 0.9)),
            ("(d) slice update, typical Service, max", smallResult.typical.max() ?? 0, large.typical.max() ?? 0),
            ("(d) slice update, largest Service (\(small.largestEndpoints) vs \(cluster.largestEndpoints) endpoints), median",
             Self.median(smallResult.largest), Self.median(large.largest)),
        ]
        for (name, s, l) in scaling {
            out += "| \(name) | \(Self.time(s)) | \(Self.time(l)) | \(DataplaneBench.ratio(l / s)) |\n"
        }
        out += "\nA full recompute grows with the cluster; a slice update costs what its Service's slices cost "
        out += "(the largest Service grows with the cluster here only because the generator's size skew does).\n\n"
        return out
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    static func median(_ values: [Double]) -> Double { percentile(values, 0.5) }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    static func time(_ seconds: Double) -> String {
        if seconds >= 1 { return String(format: "%.2f s", seconds) }
        if seconds >= 1e-3 { return String(format: "%.1f ms", seconds * 1e3) }
        return String(format: "%.0f µs", seconds * 1e6)
    }

    static func mb(_ bytes: Int) -> String { String(format: "%.0f MB", Double(bytes) / 1_048_576) }

    static func signedMB(_ bytes: Int) -> String { String(format: "%+.0f MB", Double(bytes) / 1_048_576) }
}

/// This process's memory: current RSS (`/proc/self/statm`) and peak RSS (`getrusage`).
struct Memory {
    var current: Int
    var peak: Int

    static func now() -> Memory {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        var current = 0
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let fields = statm.split(separator: " ")
            if fields.count > 1, let pages = Int(fields[1]) { current = pages * Int(sysconf(Int32(_SC_PAGESIZE))) }
        }
        return Memory(current: current, peak: Int(usage.ru_maxrss) * 1024)
    }
}

/// The baseline: LIST bodies fetched page by page over the same HTTP client library, never decoded.
enum RawList {
    /// Fetches every page of each collection with kube-proxy's selector; returns the bytes received.
    static func fetch(server: String, paths: [String], pageSize: Int = 500) async throws -> Int {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(10), read: .seconds(300)))
        configuration.httpVersion = .http1Only
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        var bytes = 0
        do {
            for path in paths {
                var token: String?
                repeat {
                    var query = "labelSelector=\(encode(ResourceSelection.kubeProxyLabelSelector))&limit=\(pageSize)"
                    if let token { query += "&continue=\(encode(token))" }
                    var request = HTTPClientRequest(url: "\(server)\(path)?\(query)")
                    request.headers.add(name: "Accept", value: "application/json")
                    let response = try await client.execute(request, timeout: .seconds(300))
                    guard response.status == .ok else { throw BenchError("GET \(path) answered \(response.status.code)") }
                    let body = try await response.body.collect(upTo: 1 << 30)
                    bytes += body.readableBytes
                    token = continueToken(in: body)
                } while token != nil
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
        return bytes
    }

    /// The list's `metadata.continue`, found by a byte search of the body's end (the stand-in writes
    /// sorted keys, so `metadata` comes last): no JSON decoding.
    static func continueToken(in body: ByteBuffer) -> String? {
        let tailLength = min(body.readableBytes, 512)
        guard let tail = body.getString(at: body.readerIndex + body.readableBytes - tailLength, length: tailLength),
            let marker = tail.range(of: "\"continue\":\"", options: .backwards)
        else { return nil }
        let rest = tail[marker.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        let token = String(rest[..<end])
        return token.isEmpty ? nil : token
    }

    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

/// A synthetic cluster shaped like a real one.
///
/// Endpoints per Service follow a power law (most Services have a handful, a few have thousands);
/// slices hold at most 100 endpoints, named `<service>-<5 chars>` as the EndpointSlice controller
/// names them. Mix: 75 % ClusterIP, 15 % NodePort, 10 % LoadBalancer (half of the external ones
/// with `externalTrafficPolicy: Local`), 2 % `internalTrafficPolicy: Local`, 20 % with
/// `trafficDistribution: PreferClose` and zone hints on their endpoints, 15 % with a second port;
/// endpoints 2 % serving-terminating, 1 % terminating and not serving, 2 % not ready, spread over
/// the Nodes and three zones.
struct BenchCluster {
    static let zones = ["zone-a", "zone-b", "zone-c"]
    var services: [V1Service] = []
    var slices: [V1EndpointSlice] = []
    var nodeObjects: [V1Node] = []
    /// Slice keys per Service key.
    var slicesByService: [String: [String]] = [:]
    var endpointCount = 0
    var largestService = ""
    var largestEndpoints = 0
    var summary = ""

    init(services count: Int, endpoints total: Int, nodes: Int, seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let sizes = Self.sizes(services: count, endpoints: total, using: &random)
        let namespaces = max(1, count / 200)
        var endpointIndex = 0
        var tally = (nodePort: 0, loadBalancer: 0, eTPLocal: 0, iTPLocal: 0, hinted: 0, twoPorts: 0)
        for i in 0..<count {
            let namespace = "bench-\(i % namespaces)"
            let name = "svc-\(i)"
            let roll = Double.random(in: 0..<1, using: &random)
            let type: V1Service.ServiceType = roll < 0.75 ? .clusterIP : (roll < 0.90 ? .nodePort : .loadBalancer)
            let external = type != .clusterIP
            let eTPLocal = external && Bool.random(using: &random)
            let iTPLocal = Double.random(in: 0..<1, using: &random) < 0.02
            let hinted = Double.random(in: 0..<1, using: &random) < 0.20
            let twoPorts = Double.random(in: 0..<1, using: &random) < 0.15
            tally.nodePort += type == .nodePort ? 1 : 0
            tally.loadBalancer += type == .loadBalancer ? 1 : 0
            tally.eTPLocal += eTPLocal ? 1 : 0
            tally.iTPLocal += iTPLocal ? 1 : 0
            tally.hinted += hinted ? 1 : 0
            tally.twoPorts += twoPorts ? 1 : 0

            let clusterIP = Self.ipv4(0xAC10_0000 + UInt32(i + 1))  // 172.16.0.0/12
            var ports: [V1Service.ServicePort] = [
                .init(name: "http", protocol: .tcp, port: 80, targetPort: .int(8080), nodePort: external ? 30000 + i % 2768 : nil)
            ]
            if twoPorts { ports.append(.init(name: "metrics", protocol: .tcp, port: 9090, targetPort: .int(9090))) }
            let ingress: V1Service.Status? =
                type == .loadBalancer
                ? .init(loadBalancer: .init(ingress: [.init(ip: Self.ipv4(0xCB00_0000 + UInt32(i + 1)), ipMode: "VIP")])) : nil
            services.append(
                V1Service(
                    metadata: ObjectMeta(name: name, namespace: namespace, uid: "svc-uid-\(i)"),
                    spec: .init(
                        type: type, clusterIP: clusterIP, clusterIPs: [clusterIP], ipFamilies: ["IPv4"],
                        ipFamilyPolicy: "SingleStack", ports: ports, sessionAffinity: "None",
                        internalTrafficPolicy: iTPLocal ? .local : .cluster,
                        externalTrafficPolicy: external ? (eTPLocal ? .local : .cluster) : nil,
                        selector: ["app": name], trafficDistribution: hinted ? "PreferClose" : nil),
                    status: ingress))

            let slicePorts = ports.map { V1EndpointSlice.EndpointPort(name: $0.name, protocol: .tcp, port: $0.port == 80 ? 8080 : 9090) }
            let size = sizes[i]
            var keys: [String] = []
            var made = 0
            repeat {
                let chunk = min(100, size - made)
                let endpoints = (0..<chunk).map { _ in
                    defer { endpointIndex += 1 }
                    return Self.endpoint(index: endpointIndex, namespace: namespace, service: name, nodes: nodes, hinted: hinted, using: &random)
                }
                let suffix = String((0..<5).map { _ in "bcdfghjklmnpqrstvwxz2456789".randomElement(using: &random)! })
                let slice = V1EndpointSlice(
                    metadata: ObjectMeta(
                        name: "\(name)-\(suffix)", namespace: namespace, uid: "slice-uid-\(slices.count)", generation: 1,
                        labels: [
                            V1EndpointSlice.serviceNameLabel: name,
                            "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                        ]),
                    addressType: .ipv4, endpoints: endpoints, ports: slicePorts)
                keys.append(slice.key)
                slices.append(slice)
                made += chunk
            } while made < size
            slicesByService["\(namespace)/\(name)"] = keys
            if size > largestEndpoints {
                largestEndpoints = size
                largestService = "\(namespace)/\(name)"
            }
        }
        endpointCount = endpointIndex
        nodeObjects = (0..<nodes).map { n in
            V1Node(
                metadata: ObjectMeta(name: "node-\(n)", labels: [V1Node.zoneLabel: Self.zones[n % 3], "kubernetes.io/hostname": "node-\(n)"]),
                status: .init(addresses: [.init(type: "InternalIP", address: Self.ipv4(0xC0A8_0000 + UInt32(n + 1)))],
                              conditions: [.init(type: "Ready", status: "True")]))
        }
        let medianSize = sizes.sorted()[count / 2]
        func pct(_ n: Int) -> String { String(format: "%.0f %%", 100 * Double(n) / Double(max(count, 1))) }
        summary = "\(count) Services (\(pct(tally.nodePort)) NodePort, \(pct(tally.loadBalancer)) LoadBalancer, "
            + "\(pct(tally.eTPLocal)) externalTrafficPolicy Local, \(pct(tally.iTPLocal)) internalTrafficPolicy Local, "
            + "\(pct(tally.hinted)) with zone hints, \(pct(tally.twoPorts)) with two ports), "
            + "\(endpointCount) endpoints in \(slices.count) EndpointSlices of ≤ 100, \(nodes) Nodes in 3 zones; "
            + "endpoints per Service: median \(medianSize), largest \(largestEndpoints)"
    }

    /// Endpoints per Service: at least one each (when there are enough), the rest by weight 1/rank^0.7,
    /// ranks shuffled so that big Services are spread over namespaces.
    static func sizes(services count: Int, endpoints total: Int, using random: inout SplitMix64) -> [Int] {
        guard total >= count else { return (0..<count).map { $0 < total ? 1 : 0 } }
        let weights = (0..<count).map { 1 / pow(Double($0 + 1), 0.7) }
        let sum = weights.reduce(0, +)
        let spare = total - count
        var sizes = weights.map { 1 + Int(Double(spare) * $0 / sum) }
        var missing = total - sizes.reduce(0, +)
        var rank = 0
        while missing > 0 {
            sizes[rank % count] += 1
            missing -= 1
            rank += 1
        }
        sizes.shuffle(using: &random)
        return sizes
    }

    static func endpoint(
        index: Int, namespace: String, service: String, nodes: Int, hinted: Bool, using random: inout SplitMix64
    ) -> V1EndpointSlice.Endpoint {
        let node = Int.random(in: 0..<nodes, using: &random)
        let zone = zones[node % 3]
        let roll = Double.random(in: 0..<1, using: &random)
        let conditions: V1EndpointSlice.Conditions =
            roll < 0.02
            ? .init(ready: false, serving: true, terminating: true)
            : roll < 0.03
                ? .init(ready: false, serving: false, terminating: true)
                : roll < 0.05 ? .init(ready: false, serving: false, terminating: false) : .init(ready: true, serving: true, terminating: false)
        return V1EndpointSlice.Endpoint(
            addresses: [ipv4(0x0A00_0000 + UInt32(index + 1))], conditions: conditions,
            targetRef: ObjectReference(kind: "Pod", namespace: namespace, name: "\(service)-\(index)"),
            nodeName: "node-\(node)", zone: zone, hints: hinted ? .init(forZones: [.init(name: zone)]) : nil)
    }

    static func ipv4(_ value: UInt32) -> String {
        "\(value >> 24).\((value >> 16) & 0xFF).\((value >> 8) & 0xFF).\(value & 0xFF)"
    }

    /// Loads every object into the stand-in.
    func fill(_ state: APIServerState) async throws {
        for service in services { try await state.create(json: JSONValue.from(service), in: .services) }
        for slice in slices { try await state.create(json: JSONValue.from(slice), in: .endpointSlices) }
        for node in nodeObjects { try await state.create(json: JSONValue.from(node), in: .nodes) }
    }

    /// `count` successive slice updates, each flipping one endpoint between ready and terminating and
    /// bumping the generation, as the EndpointSlice controller does when a pod starts or stops.
    /// Slices come from a uniformly chosen Service (or from the largest one), based on `cache`'s copies.
    func sliceUpdates(count: Int, in cache: DesiredStateCache, largestOnly: Bool, using random: inout SplitMix64) -> [V1EndpointSlice] {
        let candidates = largestOnly ? [largestService] : slicesByService.keys.sorted()
        guard largestEndpoints > 0 else { return [] }
        var current: [String: V1EndpointSlice] = [:]
        var result: [V1EndpointSlice] = []
        while result.count < count {
            guard let service = candidates.randomElement(using: &random),
                let key = slicesByService[service]?.randomElement(using: &random),
                var slice = current[key] ?? cache.slices[key], let endpoints = slice.endpoints, !endpoints.isEmpty
            else { continue }
            let index = Int.random(in: 0..<endpoints.count, using: &random)
            let wasReady = endpoints[index].conditions?.ready ?? true
            slice.endpoints?[index].conditions =
                wasReady ? .init(ready: false, serving: true, terminating: true) : .init(ready: true, serving: true, terminating: false)
            slice.metadata.generation = (slice.metadata.generation ?? 1) + 1
            current[key] = slice
            result.append(slice)
        }
        return result
    }
}
