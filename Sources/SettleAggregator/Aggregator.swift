public import AsyncHTTPClient
import Foundation
public import Logging
public import SettleAcks
public import SettleAggregation
public import SettleKube
public import SettleKubeClient
public import SettleModel
import NIOCore
import NIOHTTP1
import SettleConvergence
import Synchronization

/// The aggregator (issue #5): reads every agent's `/v1/acks` stream, watches EndpointSlices (and
/// Nodes, and the agents' pods), and answers waits as soon as they are done.
///
/// All state is one ``Aggregation`` value inside this actor; agent streams, reflectors and the
/// clock feed it, and every input returns the waits it completed, which are answered at once
/// (no polling). Every replica runs the same and holds a complete view: there is nothing to
/// elect or share (brief §4).
public actor Aggregator {
    public let configuration: AggregatorConfiguration
    private let client: KubeClient
    private let http: HTTPClient
    public let metrics: AggregatorMetrics
    private let logger: Logger

    private var state: Aggregation
    /// Open waits, and answered ones until their answer is collected.
    private var waits: [Int: WaitEntry] = [:]
    /// Waits not answered yet (what --max-waiters bounds).
    private var openWaits = 0

    private struct WaitEntry {
        var query: WaitQuery
        var ips: [IPAddress]
        var target: WaitTarget
        var started: Date
        var deadline: Task<Void, Never>
        var continuation: CheckedContinuation<WaitAnswer, Never>?
        /// The answer, once given, until ``Aggregator/answer(of:)`` collects it.
        var result: WaitAnswer?
        var answeredAt: Date?
    }
    private var streams: [String: StreamTask] = [:]
    private var nextStream = 0
    /// When bytes last arrived from each agent, written by the stream readers directly.
    private let arrivals = ArrivalTimes()
    private var lastForget = Date.distantPast
    private var synced: Set<String> = []
    /// Agent pods by key: the node they run on and their URL (when running with an IP).
    private var agentPods: [String: (node: String, url: String?)] = [:]

    private struct StreamTask {
        var id: Int
        var url: String
        var task: Task<Void, Never>
        /// When the agent answered 200 and no message has arrived since: an agent sends its
        /// snapshot at once, so a stream open and mute past the silence timeout is broken.
        var openedMute: Date?
    }

    /// What a failed request to the aggregator's API means.
    public enum Refusal: Error, Sendable {
        case notReady(String)
        case tooManyWaiters(Int)
    }

    /// The HTTP client agent streams use: one long-lived connection per agent, no read timeout
    /// (silence is the clock's business), a short connect timeout, and room for several streams to
    /// one host:port (agents behind one address in tests and the benchmark).
    public static func makeStreamClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(5), read: nil)
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public init(
        configuration: AggregatorConfiguration, client: KubeClient, metrics: AggregatorMetrics = AggregatorMetrics(),
        http: HTTPClient = Aggregator.makeStreamClient(), logger: Logger
    ) {
        self.configuration = configuration
        self.client = client
        self.http = http
        self.metrics = metrics
        self.logger = logger
        self.state = Aggregation(
            policy: configuration.unknownNodes, silenceTimeout: configuration.silenceTimeout.seconds,
            notReadyGrace: configuration.notReadyGrace.seconds)
    }

    // MARK: - Running

    /// Runs until cancelled: reflectors, agent streams, the clock.
    public func run() async throws {
        let client = client
        let logger = logger
        let configuration = configuration
        for (node, url) in configuration.staticAgents.sorted(by: { $0.key < $1.key }) {
            complete(state.setAgent(url, node: node))
            startStream(node: node, url: url)
        }
        defer {
            for stream in streams.values { stream.task.cancel() }
            streams = [:]
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await Reflector<V1EndpointSlice>(client: client, selection: .kubeProxy, logger: logger).run { await self.slices($0) }
            }
            if configuration.watchNodes {
                group.addTask {
                    await Reflector<V1Node>(client: client, logger: logger).run { await self.nodeObjects($0) }
                }
            }
            if let namespace = configuration.agentNamespace {
                group.addTask {
                    await Reflector<V1Pod>(
                        client: client, selection: ResourceSelection(namespace: namespace, labelSelector: configuration.agentSelector),
                        logger: logger
                    ).run { await self.agentPods($0) }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: configuration.tickInterval)
                    await self.tick()
                }
            }
            await group.next()
            group.cancelAll()
        }
        for id in Array(waits.keys) { finish(id, timedOut: false) }
        try? await http.shutdown()
    }

    /// Ready once the first EndpointSlice list (and, when watched, Node and agent lists) arrived.
    public func readiness() -> (ready: Bool, reason: String?) {
        var needed: [String] = ["slices"]
        if configuration.watchNodes { needed.append("nodes") }
        if configuration.agentNamespace != nil { needed.append("agent pods") }
        let missing = needed.filter { !synced.contains($0) }
        return missing.isEmpty ? (true, nil) : (false, "waiting for the first list of " + missing.joined(separator: ", "))
    }

    // MARK: - Questions

    /// Answers a wait: at once when `timeout` is zero or the answer is already done; otherwise when
    /// it becomes done, or at the deadline with `timedOut`.
    public func wait(query: WaitQuery, ips: [IPAddress], target: WaitTarget, timeout: Duration) async throws(Refusal) -> WaitAnswer {
        switch try openWait(query: query, ips: ips, target: target, timeout: timeout) {
        case .answered(let answer): return answer
        case .waiting(let id): return await answer(of: id)
        }
    }

    /// What ``openWait(query:ips:target:timeout:)`` gives: an answer now, or a wait to collect
    /// with ``answer(of:)`` (which the HTTP layer does while it keeps the connection alive).
    public enum Opened: Sendable {
        case answered(WaitAnswer)
        case waiting(Int)
    }

    /// Checks readiness and the waiter cap, then answers at once (no `timeout`, or already done)
    /// or opens a wait that ends when done or at `timeout`.
    public func openWait(query: WaitQuery, ips: [IPAddress], target: WaitTarget, timeout: Duration) throws(Refusal) -> Opened {
        let (ready, reason) = readiness()
        guard ready else { throw .notReady(reason ?? "not ready") }
        let started = Date()
        if timeout <= .zero {
            return .answered(state.evaluate(query: query, ips: ips, target: target, started: started, now: started))
        }
        guard openWaits < configuration.maxWaiters else { throw .tooManyWaiters(configuration.maxWaiters) }
        let id = state.openWait(query: query, ips: ips, target: target, now: started)
        if state.isDone(id) {
            let answer = state.answer(id, now: Date()) ?? state.evaluate(query: query, ips: ips, target: target, started: started, now: Date())
            state.closeWait(id)
            metrics.recordWait(target: target, result: .done, seconds: answer.elapsedSeconds)
            return .answered(answer)
        }
        let deadline = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            guard !Task.isCancelled else { return }
            await self?.finish(id, timedOut: true)
        }
        waits[id] = WaitEntry(query: query, ips: ips, target: target, started: started, deadline: deadline)
        openWaits += 1
        metrics.setWaiters(openWaits)
        return .waiting(id)
    }

    /// The answer of an open wait: when it is done, at its deadline, or at once if that already
    /// happened. Cancelling the caller cancels the wait (answered as it stands, counted `cancelled`).
    public func answer(of id: Int) async -> WaitAnswer {
        if let result = waits[id]?.result {
            waits[id] = nil
            return result
        }
        guard waits[id] != nil else {
            return state.evaluate(query: WaitQuery(), ips: [], target: .drained, started: Date(), now: Date())
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if let result = waits[id]?.result {
                    waits[id] = nil
                    continuation.resume(returning: result)
                } else {
                    waits[id]?.continuation = continuation
                }
            }
        } onCancel: {
            Task { await self.cancelWait(id) }
        }
    }

    /// Ends an open wait now (its client went away): counted `cancelled`.
    public func cancelWait(_ id: Int) {
        resolve(id, timedOut: true, cancelled: true)
        if waits[id]?.continuation == nil { waits[id] = nil }
    }

    /// The IPs slices gave a pod, or `nil` when the aggregator never saw (or forgot) the pod.
    public func ips(ofPod pod: String) -> [IPAddress]? { state.index.ips(ofPod: pod) }

    /// Whether any slice lists (or recently listed) `ip`.
    public func isKnown(_ ip: IPAddress) -> Bool { !state.index.listings(of: ip).isEmpty }

    /// `/v1/nodes`.
    public func nodesAnswer() -> NodesAnswer {
        let now = Date()
        var healthy = 0
        var unknown = 0
        var excluded = 0
        let nodes = state.nodes.values.sorted { $0.name < $1.name }.map { node -> NodeHealth in
            let reason = node.exclusion
            let status: String
            switch reason?.group {
            case nil: status = "healthy"; healthy += 1
            case .unknown: status = "unknown"; unknown += 1
            default: status = "excluded"; excluded += 1
            }
            var notConverged = 0
            var divergent = 0
            var oldest: Date?
            for ack in node.acks.values {
                if ack.state == .stale || ack.state == .missing {
                    notConverged += 1
                    oldest = min(oldest ?? ack.since, ack.since)
                }
                if ack.change == .divergent { divergent += 1 }
            }
            return NodeHealth(
                node: node.name, status: status, reason: reason,
                detail: reason.map { Aggregation.describe($0, node: node) }, agent: node.agent, connected: node.connected,
                ready: node.ready, mode: node.mode, epoch: node.epoch, seq: node.sequence, watch: node.watch,
                lastMessage: node.lastMessage, silentSeconds: node.lastMessage.map { max(0, now.timeIntervalSince($0)) },
                inTransition: node.acks.count, notConverged: notConverged, divergent: divergent,
                lagSeconds: oldest.map { max(0, now.timeIntervalSince($0)) }, nodeReady: node.nodeReady,
                nodeDeleting: node.nodeDeleting, connects: node.connects, malformed: node.malformed)
        }
        return NodesAnswer(
            nodes: nodes, counts: .init(total: nodes.count, healthy: healthy, unknown: unknown, excluded: excluded),
            policy: WaitPolicy(unknownNodes: state.policy), watch: state.index.resourceVersion)
    }

    /// `/v1/services/{namespace}/{name}`; `nil` for a Service the aggregator knows nothing of.
    public func serviceAnswer(_ service: String) -> ServiceAnswer? {
        state.serviceAnswer(service, now: Date())
    }

    // MARK: - Inputs

    func slices(_ event: ReflectorEvent<V1EndpointSlice>) {
        let now = Date()
        switch event {
        case .replaced(let slices, let version):
            complete(state.slicesReplaced(slices, resourceVersion: version, now: now))
            synced.insert("slices")
        case .added(let slice), .modified(let slice):
            complete(state.sliceUpserted(slice, now: now))
        case .deleted(let slice):
            complete(state.sliceDeleted(slice, now: now))
        case .bookmark(let version):
            state.index.advance(to: version)
        }
        metrics.setListings(state.index.count)
    }

    func nodeObjects(_ event: ReflectorEvent<V1Node>) {
        let now = Date()
        switch event {
        case .replaced(let objects, _):
            let names = Set(objects.compactMap(\.metadata.name))
            for object in objects { if let name = object.metadata.name { complete(state.setNodeObject(object, name: name, now: now)) } }
            for (name, node) in state.nodes where node.hasNodeObject && !names.contains(name) {
                complete(state.setNodeObject(nil, name: name, now: now))
                complete(state.removeIfEmpty(node: name, nodeDeleted: true))
            }
            synced.insert("nodes")
        case .added(let object), .modified(let object):
            if let name = object.metadata.name { complete(state.setNodeObject(object, name: name, now: now)) }
        case .deleted(let object):
            if let name = object.metadata.name {
                complete(state.setNodeObject(nil, name: name, now: now))
                complete(state.removeIfEmpty(node: name, nodeDeleted: true))
            }
        case .bookmark: break
        }
    }

    func agentPods(_ event: ReflectorEvent<V1Pod>) {
        var touched: Set<String> = []
        func record(_ pod: V1Pod) {
            guard let node = pod.spec?.nodeName else { return }
            let running = pod.status?.phase == "Running" && pod.metadata.deletionTimestamp == nil
            let ip = pod.status?.podIP.flatMap { IPAddress($0) }
            let url = running ? ip.map { Self.agentURL(ip: $0, port: configuration.agentPort) } : nil
            if let old = agentPods[pod.key]?.node { touched.insert(old) }
            agentPods[pod.key] = (node, url)
            touched.insert(node)
        }
        switch event {
        case .replaced(let pods, _):
            for (key, entry) in agentPods {
                touched.insert(entry.node)
                agentPods[key] = nil
            }
            pods.forEach(record)
            synced.insert("agent pods")
        case .added(let pod), .modified(let pod):
            record(pod)
        case .deleted(let pod):
            if let old = agentPods.removeValue(forKey: pod.key) { touched.insert(old.node) }
        case .bookmark: break
        }
        for node in touched where configuration.staticAgents[node] == nil {
            // The node's agent: a running agent pod there (two during a rolling update: the last
            // URL in order, so every replica picks the same). A pod that is not running yet
            // keeps the node `unknown`, as does a node whose agent pod went away.
            let pods = agentPods.values.filter { $0.node == node }
            let url = pods.compactMap(\.url).sorted().last
            complete(state.setAgent(url, node: node, expected: !pods.isEmpty))
            if let url {
                if streams[node]?.url != url { startStream(node: node, url: url) }
            } else {
                streams.removeValue(forKey: node)?.task.cancel()
                complete(state.removeIfEmpty(node: node))
            }
        }
    }

    static func agentURL(ip: IPAddress, port: Int) -> String {
        ip.description.contains(":") ? "http://[\(ip)]:\(port)" : "http://\(ip):\(port)"
    }

    func tick() {
        let now = Date()
        for (node, time) in arrivals.snapshot() { state.noteArrival(node: node, at: time) }
        complete(state.tick(now: now))
        let silence = configuration.silenceTimeout.seconds
        for (name, stream) in streams {
            guard let node = state.nodes[name], let url = node.agent else { continue }
            let mute = stream.openedMute.map { now.timeIntervalSince($0) > silence } ?? false
            guard node.silent || mute else { continue }
            logger.warning("agent stream silent; reconnecting", metadata: ["node": "\(name)", "agent": "\(stream.url)"])
            metrics.recordStreamFailure(.silent)
            complete(state.disconnected(node: name, reason: "silent for more than \(configuration.silenceTimeout)"))
            startStream(node: name, url: url)
        }
        // Forgetting walks every record: not more often than every 10 s (or `remember`).
        if now.timeIntervalSince(lastForget) >= min(10, configuration.remember.seconds) {
            lastForget = now
            state.index.forget(removedBefore: now.addingTimeInterval(-configuration.remember.seconds))
            dropUncollected(now: now)
        }
        metrics.setListings(state.index.count)
        metrics.setNodes(state.nodes.values.map(\.exclusion))
        metrics.setAcks(state.nodes.values.reduce(0) { $0 + $1.acks.count })
    }

    // MARK: - Agent streams

    private func startStream(node: String, url: String) {
        streams[node]?.task.cancel()
        nextStream += 1
        let id = nextStream
        let http = http
        let configuration = configuration
        let arrivals = arrivals
        let tokenFile = configuration.agentTokenFile.map(BearerTokenFile.init(path:))
        let task = Task { [weak self] in
            var delay = configuration.reconnectInitial
            while !Task.isCancelled {
                guard let self else { return }
                let resume = await self.resumePoint(node: node, stream: id)
                guard let resume else { return }
                var target = "\(url)/v1/acks"
                if let epoch = resume.epoch, let seq = resume.seq { target += "?since=\(seq)&epoch=\(epoch)" }
                var healthy = false
                do {
                    var request = HTTPClientRequest(url: target)
                    request.headers.add(name: "Accept", value: "application/x-ndjson")
                    if let tokenFile { request.headers.add(name: "Authorization", value: "Bearer \(try tokenFile.token())") }
                    let response = try await http.execute(request, timeout: .hours(24 * 365))
                    guard response.status == .ok else {
                        throw StreamFailure.http(Int(response.status.code))
                    }
                    await self.streamOpened(node: node, stream: id)
                    var decoder = AckStreamDecoder(maxLineBytes: 64 << 20)
                    for try await chunk in response.body {
                        arrivals.touch(node)
                        let messages: [AckMessage]
                        do {
                            messages = try decoder.feed(chunk.readableBytesView)
                        } catch {
                            throw StreamFailure.malformed("\(error)")
                        }
                        if !messages.isEmpty {
                            healthy = true
                            await self.received(messages, node: node, stream: id)
                        }
                    }
                    await self.streamEnded(node: node, stream: id, reason: "the agent ended the stream", malformed: false)
                } catch let failure as StreamFailure {
                    if case .malformed = failure {
                        await self.streamEnded(node: node, stream: id, reason: "\(failure)", malformed: true)
                    } else {
                        await self.streamEnded(node: node, stream: id, reason: "\(failure)", malformed: false)
                    }
                } catch {
                    if Task.isCancelled { return }
                    await self.streamEnded(node: node, stream: id, reason: "\(error)", malformed: false)
                }
                if healthy { delay = configuration.reconnectInitial }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, configuration.reconnectMaximum)
            }
        }
        streams[node] = StreamTask(id: id, url: url, task: task)
    }

    private enum StreamFailure: Error, CustomStringConvertible {
        case http(Int)
        case malformed(String)

        var description: String {
            switch self {
            case .http(let code): "the agent answered HTTP \(code)"
            case .malformed(let error): "malformed stream: \(error)"
            }
        }
    }

    /// Where the stream should resume (`nil` when this stream task was replaced).
    private func resumePoint(node: String, stream: Int) -> (epoch: String?, seq: UInt64?)? {
        guard streams[node]?.id == stream, let state = state.nodes[node] else { return nil }
        return (state.epoch, state.sequence)
    }

    private func streamOpened(node: String, stream: Int) {
        guard streams[node]?.id == stream else { return }
        streams[node]?.openedMute = Date()
        state.recordConnect(node: node)
        metrics.recordConnect()
    }

    private func received(_ messages: [AckMessage], node: String, stream: Int) {
        guard streams[node]?.id == stream else { return }
        streams[node]?.openedMute = nil
        let now = Date()
        for message in messages {
            complete(state.apply(message, from: node, at: now))
        }
        metrics.recordMessages(messages.count)
    }

    private func streamEnded(node: String, stream: Int, reason: String, malformed: Bool) {
        guard streams[node]?.id == stream else { return }
        if malformed {
            state.recordMalformed(node: node)
            metrics.recordStreamFailure(.malformed)
            logger.warning("agent sent a malformed stream; disconnected", metadata: ["node": "\(node)", "error": "\(reason)"])
        } else {
            metrics.recordStreamFailure(.disconnected)
            logger.debug("agent stream ended", metadata: ["node": "\(node)", "reason": "\(reason)"])
        }
        complete(state.disconnected(node: node, reason: reason))
    }

    // MARK: - Answering

    private func complete(_ ids: [Int]) {
        // `resolve` skips waits already answered or gone.
        for id in ids { finish(id, timedOut: false) }
    }

    private func finish(_ id: Int, timedOut: Bool) {
        resolve(id, timedOut: timedOut, cancelled: false)
    }

    /// Answers one open wait and closes it: to its waiting caller, or kept for ``answer(of:)``.
    private func resolve(_ id: Int, timedOut: Bool, cancelled: Bool) {
        guard var entry = waits[id], entry.result == nil else { return }
        entry.deadline.cancel()
        let now = Date()
        let answer =
            state.answer(id, now: now, timedOut: timedOut)
            ?? state.evaluate(query: entry.query, ips: entry.ips, target: entry.target, started: entry.started, now: now)
        state.closeWait(id)
        openWaits -= 1
        metrics.setWaiters(openWaits)
        let result: AggregatorMetrics.WaitResult = cancelled ? .cancelled : answer.done ? .done : .timeout
        metrics.recordWait(target: answer.for, result: result, seconds: answer.elapsedSeconds)
        if let continuation = entry.continuation {
            waits[id] = nil
            continuation.resume(returning: answer)
        } else {
            entry.result = answer
            entry.answeredAt = now
            waits[id] = entry
        }
    }

    /// Forgets answers nobody collected (their request went away before asking).
    private func dropUncollected(now: Date) {
        for (id, entry) in waits where entry.answeredAt.map({ now.timeIntervalSince($0) > 60 }) == true { waits[id] = nil }
    }
}

/// The last arrival of bytes per agent stream, shared between the readers and the actor.
final class ArrivalTimes: Sendable {
    private let times = Mutex<[String: Date]>([:])

    func touch(_ node: String) {
        let now = Date()
        times.withLock { $0[node] = now }
    }

    func snapshot() -> [String: Date] { times.withLock { $0 } }
}
