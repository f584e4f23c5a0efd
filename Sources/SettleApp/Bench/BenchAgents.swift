import Foundation
import Hummingbird
import NIOCore
import SettleAcks
import SettleAgent
import SettleConvergence
import SettleModel
import SettleSelection
import Synchronization

/// Many simulated agents in one process, for `settle bench aggregator`: one real ``AckHub`` per
/// node, all served by one HTTP server that picks the hub by the request's `Host` (every node has
/// its own loopback address, 127.0.X.Y, so a reader keeps one connection per agent, as with real
/// nodes).
///
/// The stream follows docs/agent-api.md (snapshot or missed deltas, then live deltas, heartbeats),
/// but each stream waits on its node with one continuation instead of `AckSubscription`'s task
/// group per message, and deltas are written by ``BenchWire`` (checked byte for byte against
/// `AckWire` at start), so that simulating thousands of agents leaves the CPU to the aggregator.
final class BenchNode: Sendable {
    let name: String
    let hub: AckHub

    private struct State {
        var waiters: [Int: CheckedContinuation<Bool, Never>] = [:]
        var nextID = 0
        var heartbeatDue = false
        var closed = false
    }

    private let state = Mutex(State())

    init(name: String, watch: String, ringCapacity: Int) {
        self.name = name
        self.hub = AckHub(node: name, capacity: ringCapacity)
        hub.setMode("nftables")
        hub.setWatch(watch)
        hub.setReady(true)
    }

    /// Records acks (and moves the watch first, in one step that no snapshot or heartbeat can
    /// split: a reader never sees the new watch without the acks it came with).
    @discardableResult
    func record(changed: [Ack], expired: [AckKey], watch: String?) -> UInt64 {
        let (sequence, woken) = state.withLock { state -> (UInt64, [CheckedContinuation<Bool, Never>]) in
            if let watch { hub.setWatch(watch) }
            let delta = hub.record(changed: changed, expired: expired)
            guard delta != nil else { return (hub.sequence, []) }
            defer { state.waiters.removeAll() }
            return (hub.sequence, Array(state.waiters.values))
        }
        for continuation in woken { continuation.resume(returning: false) }
        return sequence
    }

    /// What a reader at `(epoch, sequence)` is sent next (as `AckHub.catchUp` does).
    func catchUp(after sequence: UInt64?, epoch: String?, first: Bool) -> [AckMessage] {
        state.withLock { state in
            let heartbeat = state.heartbeatDue || first
            state.heartbeatDue = false
            switch hub.messages(after: sequence, epoch: epoch) {
            case .snapshot(let snapshot):
                return [.snapshot(snapshot)]
            case .deltas(let deltas):
                return deltas.map(AckMessage.delta) + (heartbeat ? [.heartbeat(hub.heartbeat())] : [])
            }
        }
    }

    /// Waits until the sequence passes `after`, a heartbeat is due, or the node closes.
    func wait(after sequence: UInt64) async {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            _ = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.closed || state.heartbeatDue || hub.sequence > sequence || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume(returning: true) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: true)
        }
    }

    /// Asks every waiting stream to send a heartbeat.
    func pokeHeartbeat() {
        let woken = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            state.heartbeatDue = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for continuation in woken { continuation.resume(returning: true) }
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    func close() {
        let woken = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            state.closed = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for continuation in woken { continuation.resume(returning: true) }
    }
}

/// The simulated agents' HTTP API: `/v1/acks`, `/healthz`, `/readyz`, by `Host`.
struct BenchAgentsResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    let nodes: [String: BenchNode]
    let counters: BenchStreamCounters
    let encode: @Sendable (AckMessage) -> [UInt8]

    func respond(to request: Request, context: Context) async throws -> Response {
        let authority = request.head.authority ?? ""
        let host = authority.lastIndex(of: ":").map { String(authority[..<$0]) } ?? authority
        guard let node = nodes[host] else {
            return Response(status: .notFound, body: .init(byteBuffer: ByteBuffer(string: "{\"error\":\"no simulated agent at \(host)\",\"status\":404}\n")))
        }
        switch request.uri.path {
        case "/healthz":
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        case "/readyz":
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{\"ready\":true}\n")))
        case "/v1/acks":
            break
        default:
            return Response(status: .notFound, body: .init(byteBuffer: ByteBuffer(string: "{\"error\":\"no such path\",\"status\":404}\n")))
        }
        let query = request.uri.queryParameters
        let since = query["since"].flatMap { UInt64(String($0)) }
        let epoch = query["epoch"].map(String.init)
        let counters = counters
        let encode = encode
        return Response(
            status: .ok, headers: [.contentType: "application/x-ndjson", .cacheControl: "no-store"],
            body: ResponseBody { writer in
                counters.opened()
                defer { counters.closed() }
                var position = since
                var epoch = epoch
                var first = true
                while !node.isClosed, !Task.isCancelled {
                    let messages = node.catchUp(after: position, epoch: epoch, first: first)
                    first = false
                    if let last = messages.last {
                        position = last.sequence
                        epoch = node.hub.epoch
                    }
                    if !messages.isEmpty {
                        var buffer = ByteBuffer()
                        var deltas = 0
                        for message in messages {
                            buffer.writeBytes(encode(message))
                            if case .delta = message { deltas += 1 }
                        }
                        try await writer.write(buffer)
                        counters.sent(messages: messages.count, deltas: deltas, bytes: buffer.writerIndex)
                    }
                    await node.wait(after: position ?? 0)
                }
                try await writer.finish(nil)
            })
    }
}

/// What the simulated agents' streams sent.
final class BenchStreamCounters: Sendable {
    private struct Counts {
        var open = 0
        var messages = 0
        var deltas = 0
        var bytes = 0
    }

    private let counts = Mutex(Counts())

    func opened() { counts.withLock { $0.open += 1 } }
    func closed() { counts.withLock { $0.open -= 1 } }
    func sent(messages: Int, deltas: Int, bytes: Int) {
        counts.withLock {
            $0.messages += messages
            $0.deltas += deltas
            $0.bytes += bytes
        }
    }

    var open: Int { counts.withLock { $0.open } }
    var snapshot: (messages: Int, deltas: Int, bytes: Int) { counts.withLock { ($0.messages, $0.deltas, $0.bytes) } }
}

/// A fast writer of the ack stream's lines, byte for byte what `AckWire.encode` writes (sorted
/// keys, RFC 3339 times with milliseconds), for deltas; other messages go through `AckWire`.
/// ``selfCheck()`` compares both on sample deltas before a benchmark uses it.
enum BenchWire {
    /// Times formatted by `AckWire.formatTime`, by millisecond since 1970 (the benchmark only
    /// makes dates on whole milliseconds).
    private static let times = Mutex<[Int64: String]>([:])

    static func time(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded())
        if let text = times.withLock({ $0[ms] }) { return text }
        let text = AckWire.formatTime(date)
        times.withLock {
            if $0.count > 50_000 { $0.removeAll(keepingCapacity: true) }
            $0[ms] = text
        }
        return text
    }

    static func encode(_ message: AckMessage) -> [UInt8] {
        guard case .delta(let delta) = message else { return AckWire.encode(message) }
        var out = "{\"acks\":["
        for (i, ack) in delta.acks.enumerated() {
            if i > 0 { out += "," }
            append(ack, to: &out)
        }
        out += "],\"expired\":["
        for (i, key) in delta.expired.enumerated() {
            if i > 0 { out += "," }
            out += "{\"ip\":\"\(key.ip)\",\"port\":"
            string(key.port, to: &out)
            out += ",\"protocol\":\"\(key.protocol.rawValue)\",\"service\":"
            string(key.service, to: &out)
            out += ",\"targetPort\":\(key.targetPort)}"
        }
        out += "],\"seq\":\(delta.seq),\"type\":\"delta\""
        if let watch = delta.watch {
            out += ",\"watch\":"
            string(watch, to: &out)
        }
        out += "}\n"
        return Array(out.utf8)
    }

    private static func append(_ ack: Ack, to out: inout String) {
        out += "{\"change\":\"\(ack.change.rawValue)\",\"convergedAt\":"
        if let converged = ack.convergedAt { out += "\"\(time(converged))\"" } else { out += "null" }
        out += ",\"fallback\":\(ack.fallback),\"ip\":\"\(ack.ip)\",\"port\":"
        string(ack.port, to: &out)
        out += ",\"protocol\":\"\(ack.protocol.rawValue)\",\"reason\":\"\(ack.reason.rawValue)\",\"service\":"
        string(ack.service, to: &out)
        out += ",\"since\":\"\(time(ack.since))\",\"slice\":"
        if let slice = ack.slice {
            out += "{"
            var first = true
            if let generation = slice.generation {
                out += "\"generation\":\(generation)"
                first = false
            }
            out += first ? "\"name\":" : ",\"name\":"
            string(slice.name, to: &out)
            if let uid = slice.uid {
                out += ",\"uid\":"
                string(uid, to: &out)
            }
            out += "}"
        } else {
            out += "null"
        }
        out += ",\"state\":\"\(ack.state.rawValue)\",\"targetPort\":\(ack.targetPort),\"targetRef\":"
        if let ref = ack.targetRef { string(ref, to: &out) } else { out += "null" }
        out += "}"
    }

    /// A JSON string; slashes unescaped, as `AckWire` writes them.
    private static func string(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// `nil` when ``encode(_:)`` writes what `AckWire.encode` writes for sample deltas; otherwise the first difference.
    static func selfCheck() -> String? {
        let key = AckKey(service: "bench-1/svc-1", port: "http", protocol: .tcp, ip: .v4(0x0A00_0001), targetPort: 8080)
        let base = Date(timeIntervalSince1970: 1_795_000_000.0)
        var samples: [AckDelta] = []
        for i in 0..<200 {
            let since = Date(timeIntervalSince1970: (base.timeIntervalSince1970 * 1000 + Double(i * 37)).rounded() / 1000)
            let converged = Date(timeIntervalSince1970: (since.timeIntervalSince1970 * 1000 + Double(i * 13 + 1)).rounded() / 1000)
            let slice = SliceReference(name: "svc-1-1", uid: i % 3 == 0 ? nil : "6c0f6b1e-1d4a-4a53-9a53-\(i)", generation: i % 5 == 0 ? nil : Int64(i))
            let ack = Ack(
                key: key, state: i % 2 == 0 ? .stale : .drained, fallback: i % 7 == 0, reason: .terminating,
                slice: i % 11 == 0 ? nil : slice, targetRef: i % 4 == 0 ? "bench-1/pod-\(i)" : nil, change: .removed, since: since,
                convergedAt: i % 2 == 0 ? nil : converged)
            samples.append(AckDelta(
                seq: UInt64(i + 1), acks: i % 9 == 0 ? [] : [ack], expired: i % 6 == 0 ? [key] : [], watch: i % 8 == 0 ? nil : "\(1000 + i)"))
        }
        for delta in samples {
            let fast = encode(.delta(delta))
            let reference = AckWire.encode(.delta(delta))
            if fast != reference {
                return "BenchWire: \(String(decoding: fast, as: UTF8.self)) vs AckWire: \(String(decoding: reference, as: UTF8.self))"
            }
        }
        return nil
    }
}

/// One HTTP response and the moment its last byte arrived.
struct TimedResponse: Sendable {
    var status: Int
    var body: [UInt8]
    var sent: ContinuousClock.Instant
    var arrived: ContinuousClock.Instant
}

/// A minimal blocking HTTP/1.1 GET on its own thread: the arrival time is taken by the thread that
/// was blocked in `recv` for it, so neither the cooperative pool nor an event loop busy with 5,000
/// agent streams delays the measurement.
enum BlockingHTTP {
    /// The failure when no complete answer arrived within the timeout.
    static let overdue = "no complete answer within the timeout"

    static func get(port: Int, path: String, timeout: Duration) async -> Result<TimedResponse, BenchError> {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result<TimedResponse, BenchError>, Never>) in
            let thread = Thread {
                continuation.resume(returning: getNow(port: port, path: path, timeout: timeout))
            }
            thread.stackSize = 256 << 10
            thread.start()
        }
    }

    static func getNow(port: Int, path: String, timeout: Duration) -> Result<TimedResponse, BenchError> {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return .failure(BenchError("socket: errno \(errno)")) }
        defer { close(fd) }
        var seconds = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &seconds, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { return .failure(BenchError("connect to 127.0.0.1:\(port): errno \(errno)")) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
        let sent = ContinuousClock.now
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else {
            return .failure(BenchError("send: errno \(errno)"))
        }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var headerEnd: Int?
        var contentLength: Int?
        var chunked = false
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return .failure(BenchError(BlockingHTTP.overdue)) }
                return .failure(BenchError("recv: errno \(errno) after \(data.count) bytes"))
            }
            let arrived = ContinuousClock.now
            if n > 0 { data.append(contentsOf: chunk[0..<n]) }
            if headerEnd == nil, let end = find([13, 10, 13, 10], in: data, from: 0) {
                headerEnd = end + 4
                let head = String(decoding: data[0..<end], as: UTF8.self).lowercased()
                for line in head.split(separator: "\r\n") {
                    if line.hasPrefix("content-length:") {
                        contentLength = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
                    }
                    if line.hasPrefix("transfer-encoding:"), line.contains("chunked") { chunked = true }
                }
            }
            var body: [UInt8]?
            if let headerEnd {
                if chunked {
                    body = dechunk(data, from: headerEnd)
                } else if let contentLength, data.count - headerEnd >= contentLength {
                    body = Array(data[headerEnd..<(headerEnd + contentLength)])
                } else if n == 0 {
                    body = Array(data[headerEnd...])
                }
            }
            if body != nil || n == 0 {
                guard headerEnd != nil, let body else { return .failure(BenchError("connection closed before a complete response")) }
                let statusLine = String(decoding: data.prefix(while: { $0 != 13 }), as: UTF8.self)
                let status = statusLine.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
                // Keep-alive spaces sent while a wait is open are not part of the answer.
                let trimmed = Array(body.drop(while: { $0 == 32 || $0 == 10 || $0 == 13 }))
                return .success(TimedResponse(status: status, body: trimmed, sent: sent, arrived: arrived))
            }
        }
    }

    /// The body of a complete chunked message, or `nil` while its last chunk has not arrived.
    private static func dechunk(_ data: [UInt8], from start: Int) -> [UInt8]? {
        var body: [UInt8] = []
        var i = start
        while true {
            guard let lineEnd = find([13, 10], in: data, from: i) else { return nil }
            let sizeText = String(decoding: data[i..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
            let chunkStart = lineEnd + 2
            if size == 0 { return body }
            guard data.count >= chunkStart + size + 2 else { return nil }
            body.append(contentsOf: data[chunkStart..<(chunkStart + size)])
            i = chunkStart + size + 2
        }
    }

    private static func find(_ needle: [UInt8], in data: [UInt8], from start: Int) -> Int? {
        guard data.count >= needle.count, start <= data.count - needle.count else { return nil }
        outer: for i in start...(data.count - needle.count) {
            for j in 0..<needle.count where data[i + j] != needle[j] { continue outer }
            return i
        }
        return nil
    }
}
