public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SettleConvergence
import SettleSelection

/// Reads one agent's `/v1/acks` stream into its current acks, as an aggregator does, and lets
/// callers wait for an ack to reach a condition. Used by benchmarks and tests (and the base of the
/// aggregator's per-agent reader).
///
/// Waiters are woken by the message that satisfies them (no polling), with the instant the
/// message's bytes arrived, so a benchmark measures the agent and not this reader.
public actor AckStreamClient {
    /// The current acks, after every snapshot and delta received so far.
    public private(set) var acks: [AckKey: Ack] = [:]
    /// Every ack received, in order (to prove what an agent never said).
    public private(set) var history: [Ack] = []
    /// How many messages of each kind arrived.
    public private(set) var received: [AckMessage.Kind: Int] = [:]
    /// The last snapshot's or heartbeat's fields.
    public private(set) var epoch: String?
    public private(set) var sequence: UInt64?
    public private(set) var ready = false
    /// Why the stream ended, if it did.
    public private(set) var failure: String?

    /// When each key's current ack arrived, so a wait that starts after its ack already arrived
    /// still reports the arrival, not the moment it asked.
    private var arrivals: [AckKey: ContinuousClock.Instant] = [:]
    private var task: Task<Void, Never>?
    private var waiters: [UUID: Waiter] = [:]

    private struct Waiter {
        var key: AckKey
        var condition: @Sendable (Ack) -> Bool
        var continuation: CheckedContinuation<(Ack, ContinuousClock.Instant), any Error>
    }

    public init() {}

    /// Starts reading `url` (`http://agent:9467/v1/acks`) with `client`, presenting `token` when
    /// given (an agent with `--stream-auth tokenreview`); returns at once.
    public func start(url: String, client: HTTPClient, token: String? = nil) {
        task = Task {
            do {
                var request = HTTPClientRequest(url: url)
                if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
                let response = try await client.execute(request, timeout: .hours(24 * 365))
                guard response.status == .ok else {
                    self.end("HTTP \(response.status.code)")
                    return
                }
                var decoder = AckStreamDecoder()
                for try await chunk in response.body {
                    let arrived = ContinuousClock.now
                    let messages = try decoder.feed(chunk.readableBytesView)
                    self.receive(messages, at: arrived)
                }
                self.end("stream ended")
            } catch {
                self.end(Task.isCancelled ? "stopped" : "\(error)")
            }
        }
    }

    /// Stops reading; pending waits fail.
    public func stop() {
        task?.cancel()
        end("stopped")
    }

    /// Waits until the ack for `key` satisfies `condition` (now or in a later message); returns it
    /// and when the message carrying it arrived (also when that was before this call). Throws after `timeout` with the last ack seen.
    public func wait(
        for key: AckKey, timeout: Duration = .seconds(30), _ condition: @escaping @Sendable (Ack) -> Bool
    ) async throws -> (ack: Ack, arrived: ContinuousClock.Instant) {
        if let ack = acks[key], condition(ack) { return (ack, arrivals[key] ?? ContinuousClock.now) }
        if let failure { throw AckStreamClientError.ended(failure) }
        let id = UUID()
        let timer = Task {
            try? await Task.sleep(for: timeout)
            self.expire(id)
        }
        defer { timer.cancel() }
        let (ack, at) = try await withCheckedThrowingContinuation { continuation in
            waiters[id] = Waiter(key: key, condition: condition, continuation: continuation)
        }
        return (ack, at)
    }

    private func expire(_ id: UUID) {
        guard let waiter = waiters.removeValue(forKey: id) else { return }
        let last = acks[waiter.key].map { "\($0.state.rawValue) (generation \($0.slice?.generation.map(String.init) ?? "none"))" } ?? "none"
        waiter.continuation.resume(throwing: AckStreamClientError.timedOut(key: waiter.key, last: last))
    }

    private func end(_ reason: String) {
        if failure == nil { failure = reason }
        for (_, waiter) in waiters { waiter.continuation.resume(throwing: AckStreamClientError.ended(reason)) }
        waiters = [:]
    }

    private func receive(_ messages: [AckMessage], at arrived: ContinuousClock.Instant) {
        var touched: [AckKey] = []
        for message in messages {
            received[message.kind, default: 0] += 1
            switch message {
            case .snapshot(let snapshot):
                acks = Dictionary(snapshot.acks.map { ($0.key, $0) }, uniquingKeysWith: { _, last in last })
                arrivals = Dictionary(snapshot.acks.map { ($0.key, arrived) }, uniquingKeysWith: { _, last in last })
                history += snapshot.acks
                epoch = snapshot.epoch
                ready = snapshot.ready
                touched += snapshot.acks.map(\.key)
            case .delta(let delta):
                for ack in delta.acks {
                    acks[ack.key] = ack
                    arrivals[ack.key] = arrived
                }
                for key in delta.expired {
                    acks[key] = nil
                    arrivals[key] = nil
                }
                history += delta.acks
                touched += delta.acks.map(\.key)
            case .heartbeat(let heartbeat):
                ready = heartbeat.ready
            }
            sequence = message.sequence
        }
        guard !waiters.isEmpty, !touched.isEmpty else { return }
        let keys = Set(touched)
        for (id, waiter) in waiters where keys.contains(waiter.key) {
            if let ack = acks[waiter.key], waiter.condition(ack) {
                waiters[id] = nil
                waiter.continuation.resume(returning: (ack, arrived))
            }
        }
    }
}

public enum AckStreamClientError: Error, CustomStringConvertible {
    case timedOut(key: AckKey, last: String)
    case ended(String)

    public var description: String {
        switch self {
        case .timedOut(let key, let last): "timed out waiting for the ack of \(key) (last seen: \(last))"
        case .ended(let reason): "the ack stream ended: \(reason)"
        }
    }
}
