import Foundation
import SettleAgent
import SettleConvergence
import SettleModel
import SettleSelection
import Testing

/// Test values for acks: endpoint `10.0.0.<n>:8080` of `shop/web:http`.
enum AckFixtures {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000.125)

    static func key(_ n: Int, service: String = "shop/web") -> AckKey {
        AckKey(service: service, port: "http", protocol: .tcp, ip: IPAddress("10.0.0.\(n)")!, targetPort: 8080)
    }

    static func ack(
        _ n: Int, _ state: EndpointState = .stale, change: AckChange = .removed, generation: Int64 = 7,
        convergedAt: Date? = nil
    ) -> Ack {
        Ack(
            key: key(n), state: state, fallback: false,
            reason: state == .stale || state == .drained ? .terminating : .desiredAndRouted,
            slice: SliceReference(name: "web-abcde", uid: "uid-1", generation: generation),
            targetRef: "shop/web-\(n)", change: change, since: t0, convergedAt: convergedAt)
    }
}

@Suite struct AckJournalTests {
    @Test("each non-empty record appends one delta with the next sequence; an empty one records nothing")
    func sequences() {
        var journal = AckJournal(node: "node-a", epoch: "e1", capacity: 8)
        #expect(journal.sequence == 0)
        #expect(journal.record(changed: [], expired: []) == nil)
        #expect(journal.sequence == 0)
        let first = journal.record(changed: [AckFixtures.ack(1)], expired: [])
        #expect(first?.seq == 1)
        let second = journal.record(changed: [AckFixtures.ack(2, .missing, change: .added)], expired: [])
        #expect(second?.seq == 2)
        #expect(journal.sequence == 2)
        #expect(journal.currentAcks.map(\.key) == [AckFixtures.key(1), AckFixtures.key(2)])
    }

    @Test("deltas carry the watch; a new watch with no ack change is a progress delta, once, and only when ready")
    func watchProgress() {
        var journal = AckJournal(node: "node-a", epoch: "e1", capacity: 8)
        journal.watch = "10"
        #expect(journal.record(changed: [], expired: []) == nil, "not ready: the baseline is not progress")
        journal.ready = true
        #expect(journal.record(changed: [], expired: []) == nil, "the watch did not move since")
        let acked = journal.record(changed: [AckFixtures.ack(1)], expired: [])
        #expect(acked?.watch == "10")
        journal.watch = "11"
        let progress = journal.record(changed: [], expired: [])
        #expect(progress == AckDelta(seq: 2, acks: [], expired: [], watch: "11"))
        #expect(journal.record(changed: [], expired: []) == nil, "the same progress is not sent twice")
        #expect(journal.snapshot().watch == "11")
        let hub = AckHub(node: "node-b", epoch: "e2")
        hub.setReady(true)
        #expect(hub.progress(watch: nil) == nil)
        #expect(hub.progress(watch: "5")?.watch == "5")
        #expect(hub.progress(watch: "5") == nil)
    }

    @Test("a reader on this epoch gets exactly the deltas after its sequence, and nothing when up to date")
    func resume() {
        var journal = AckJournal(node: "node-a", epoch: "e1", capacity: 8)
        for n in 1...5 { journal.record(changed: [AckFixtures.ack(n)], expired: []) }
        guard case .deltas(let deltas) = journal.messages(after: 2, epoch: "e1") else {
            Issue.record("expected deltas")
            return
        }
        #expect(deltas.map(\.seq) == [3, 4, 5])
        #expect(deltas.map { $0.acks.map(\.key) } == [[AckFixtures.key(3)], [AckFixtures.key(4)], [AckFixtures.key(5)]])
        #expect(journal.messages(after: 5, epoch: "e1") == .deltas([]))
    }

    @Test("first contact, a missing epoch, another epoch or a sequence from the future get a snapshot")
    func snapshotCases() {
        var journal = AckJournal(node: "node-a", epoch: "e1", capacity: 8)
        journal.ready = true
        journal.watch = "12345"
        journal.record(changed: [AckFixtures.ack(1), AckFixtures.ack(2)], expired: [])
        let expected = AckSnapshot(
            node: "node-a", epoch: "e1", seq: 1, ready: true, watch: "12345",
            acks: [AckFixtures.ack(1), AckFixtures.ack(2)])
        #expect(journal.messages(after: nil, epoch: nil) == .snapshot(expected))
        #expect(journal.messages(after: 0, epoch: nil) == .snapshot(expected))
        #expect(journal.messages(after: 0, epoch: "e0") == .snapshot(expected))
        #expect(journal.messages(after: 9, epoch: "e1") == .snapshot(expected))
        #expect(journal.messages(after: 0, epoch: "e1") != .snapshot(expected))
    }

    @Test("a reader further behind than the ring holds gets a snapshot; one exactly at the ring's edge gets deltas")
    func ringOverflow() {
        var journal = AckJournal(node: "node-a", epoch: "e1", capacity: 3)
        for n in 1...10 { journal.record(changed: [AckFixtures.ack(n)], expired: []) }
        #expect(journal.heldDeltas == 3)
        guard case .deltas(let deltas) = journal.messages(after: 7, epoch: "e1") else {
            Issue.record("expected deltas from the ring's edge")
            return
        }
        #expect(deltas.map(\.seq) == [8, 9, 10])
        guard case .snapshot(let snapshot) = journal.messages(after: 6, epoch: "e1") else {
            Issue.record("expected a snapshot for a reader behind the ring")
            return
        }
        #expect(snapshot.seq == 10)
        #expect(snapshot.acks.count == 10)
    }

    @Test("expired keys leave the current acks and are listed in their delta; a key both changed and expired stays")
    func expiredKeys() {
        var journal = AckJournal(node: "node-a", epoch: "e1")
        journal.record(changed: [AckFixtures.ack(1), AckFixtures.ack(2)], expired: [])
        let delta = journal.record(
            changed: [AckFixtures.ack(3)], expired: [AckFixtures.key(1), AckFixtures.key(3), AckFixtures.key(9)])
        #expect(delta?.expired == [AckFixtures.key(1), AckFixtures.key(9)])
        #expect(delta?.acks == [AckFixtures.ack(3)])
        #expect(journal.currentAcks.map(\.key) == [AckFixtures.key(2), AckFixtures.key(3)])
        #expect(journal[AckFixtures.key(1)] == nil)
    }

    @Test("a reader applying snapshot then deltas ends with the journal's acks")
    func replayMatchesJournal() {
        var journal = AckJournal(node: "node-a", epoch: "e1", capacity: 4)
        journal.record(changed: [AckFixtures.ack(1), AckFixtures.ack(2)], expired: [])
        guard case .snapshot(let start) = journal.messages(after: nil, epoch: nil) else { return }
        journal.record(changed: [AckFixtures.ack(2, .drained, convergedAt: AckFixtures.t0)], expired: [])
        journal.record(changed: [AckFixtures.ack(4, .missing, change: .added)], expired: [AckFixtures.key(1)])
        var held = Dictionary(uniqueKeysWithValues: start.acks.map { ($0.key, $0) })
        guard case .deltas(let deltas) = journal.messages(after: start.seq, epoch: start.epoch) else {
            Issue.record("expected deltas")
            return
        }
        for delta in deltas {
            for key in delta.expired { held[key] = nil }
            for ack in delta.acks { held[ack.key] = ack }
        }
        #expect(held.values.sorted() == journal.currentAcks)
    }

    @Test("tracked endpoints become acks with wall-clock times and their convergence key round-trips")
    func trackedEndpoints() {
        let status = EndpointStatus(
            servicePort: ServicePortName(namespace: "shop", name: "web", port: "http"), protocol: .tcp,
            ip: IPAddress("10.0.0.1")!, port: 8080, state: .drained,
            slice: SliceReference(name: "web-abcde", uid: "uid-1", generation: 8), targetRef: "shop/web-1",
            reason: .terminating)
        let now = ContinuousClock.now
        let tracked = TrackedEndpoint(status: status, change: .removed, since: now - .seconds(2), convergedAt: now)
        var journal = AckJournal(node: "node-a", epoch: "e1")
        journal.record(
            changed: [tracked], expired: [], wallTime: Ack.wallTime(now: now, date: AckFixtures.t0))
        let ack = journal.currentAcks.first
        #expect(ack?.key == AckKey(status.key))
        #expect(ack?.key.endpointKey == status.key)
        #expect(ack?.change == .removed)
        #expect(ack?.slice?.generation == 8)
        #expect(ack?.convergedAt == AckFixtures.t0)
        #expect(ack.map { abs($0.since.timeIntervalSince(AckFixtures.t0) + 2) < 0.001 } == true)
    }
}

@Suite struct AckWireTests {
    @Test("snapshot, delta and heartbeat lines decode to what was encoded, one object per line")
    func roundTrip() throws {
        let messages: [AckMessage] = [
            .snapshot(AckSnapshot(node: "node-a", epoch: "e1", seq: 3, ready: true, watch: "99", acks: [AckFixtures.ack(1)])),
            .delta(AckDelta(seq: 4, acks: [AckFixtures.ack(2, .drained, convergedAt: AckFixtures.t0)], expired: [AckFixtures.key(1)])),
            .heartbeat(AckHeartbeat(epoch: "e1", seq: 4, time: AckFixtures.t0, ready: false, watch: nil)),
        ]
        var decoder = AckStreamDecoder()
        var decoded: [AckMessage] = []
        let bytes = messages.flatMap(AckWire.encode)
        // Fed in odd-sized chunks, as a network would.
        var index = 0
        while index < bytes.count {
            let end = min(bytes.count, index + 37)
            decoded += try decoder.feed(bytes[index..<end])
            index = end
        }
        #expect(decoded == messages)
        #expect(bytes.filter { $0 == UInt8(ascii: "\n") }.count == 3)
    }

    @Test("the wire spells every field as docs/agent-api.md shows it")
    func spelling() throws {
        let line = String(decoding: AckWire.encode(.delta(AckDelta(seq: 4, acks: [AckFixtures.ack(2)], expired: [AckFixtures.key(1)]))), as: UTF8.self)
        #expect(line == """
            {"acks":[{"change":"removed","convergedAt":null,"fallback":false,"ip":"10.0.0.2","port":"http","protocol":"TCP",\
            "reason":"terminating","service":"shop/web","since":"2027-01-15T08:00:00.125Z","slice":{"generation":7,\
            "name":"web-abcde","uid":"uid-1"},"state":"stale","targetPort":8080,"targetRef":"shop/web-2"}],\
            "expired":[{"ip":"10.0.0.1","port":"http","protocol":"TCP","service":"shop/web","targetPort":8080}],\
            "seq":4,"type":"delta"}

            """)
    }

    @Test("a line that is not a message is an error naming the line; times without fractions are accepted")
    func malformed() throws {
        #expect(throws: AckWireError.self) { try AckWire.decode(line: Array(#"{"type":"gossip"}"#.utf8)) }
        let heartbeat = try AckWire.decode(line: Array(#"{"type":"heartbeat","epoch":"e","seq":1,"time":"2027-01-15T08:00:00Z","ready":true}"#.utf8))
        #expect(heartbeat == .heartbeat(AckHeartbeat(epoch: "e", seq: 1, time: Date(timeIntervalSince1970: 1_800_000_000), ready: true, watch: nil)))
        var decoder = AckStreamDecoder(maxLineBytes: 16)
        #expect(throws: AckWireError.lineTooLong(limit: 16)) { try decoder.feed(Array(repeating: UInt8(ascii: "x"), count: 17)) }
    }
}

@Suite struct AckHubTests {
    /// Collects the first `count` messages of a subscription, or fewer if it reaches `sequence` first.
    private static func take(_ count: Int, from subscription: AckSubscription, untilSequence sequence: UInt64? = nil) async -> [AckMessage] {
        var messages: [AckMessage] = []
        for await message in subscription {
            messages.append(message)
            if messages.count == count || message.sequence == sequence { break }
        }
        return messages
    }

    @Test("many readers each get the snapshot and then every live delta, in order")
    func manyReaders() async {
        let hub = AckHub(node: "node-a", epoch: "e1")
        await withTaskGroup(of: [AckMessage].self) { group in
            for _ in 0..<20 {
                group.addTask { await Self.take(6, from: hub.subscribe(since: nil, epoch: nil, heartbeatInterval: .seconds(3600))) }
            }
            // Records only once every reader waits, so each reader's first message is the empty snapshot.
            while hub.waitingReaders < 20 { await Task.yield() }
            for n in 1...5 { hub.record(changed: [AckFixtures.ack(n)], expired: []) }
            var results = 0
            for await messages in group {
                results += 1
                guard case .snapshot(let snapshot) = messages.first else {
                    Issue.record("first message is not a snapshot")
                    continue
                }
                #expect(snapshot.seq == 0)
                let sequences = messages.dropFirst().map(\.sequence)
                // Deltas may arrive one by one or together; never out of order, never skipped.
                #expect(sequences == [1, 2, 3, 4, 5])
            }
            #expect(results == 20)
        }
    }

    @Test("a reader that never reads does not block the writer or a live reader, and catches up with a snapshot")
    func slowReader() async {
        let hub = AckHub(node: "node-a", epoch: "e1", capacity: 4)
        var stalled = hub.subscribe(since: nil, epoch: nil, heartbeatInterval: .seconds(3600)).makeAsyncIterator()
        #expect(await stalled.next()?.kind == .snapshot)
        let live = Task {
            await Self.take(100, from: hub.subscribe(since: 0, epoch: "e1", heartbeatInterval: .seconds(3600)), untilSequence: 10)
        }
        while hub.waitingReaders < 1 { await Task.yield() }
        for n in 1...10 { hub.record(changed: [AckFixtures.ack(n)], expired: []) }
        let liveMessages = await live.value
        // The live reader kept up (or, if the scheduler starved it past the ring, got a snapshot): it reached 10.
        #expect(liveMessages.first?.kind == .heartbeat)
        #expect(liveMessages.last?.sequence == 10)
        // Ten deltas went by while the stalled reader held seq 0; the ring keeps 4, so it starts over.
        let next = await stalled.next()
        guard case .snapshot(let snapshot) = next else {
            Issue.record("expected a snapshot, got \(String(describing: next))")
            return
        }
        #expect(snapshot.seq == 10)
        #expect(snapshot.acks.count == 10)
    }

    @Test("resuming sends the missed deltas then a heartbeat at the same sequence; idle streams send heartbeats")
    func resumeAndHeartbeats() async {
        let hub = AckHub(node: "node-a", epoch: "e1")
        for n in 1...3 { hub.record(changed: [AckFixtures.ack(n)], expired: []) }
        let messages = await Self.take(4, from: hub.subscribe(since: 1, epoch: "e1", heartbeatInterval: .milliseconds(20)))
        #expect(messages.map(\.kind) == [.delta, .delta, .heartbeat, .heartbeat])
        #expect(messages.map(\.sequence) == [2, 3, 3, 3])
    }

    @Test("closing the hub or firing the stop signal ends waiting streams")
    func closing() async {
        let hub = AckHub(node: "node-a", epoch: "e1")
        let stop = StopSignal()
        let stopped = Task { await Self.take(100, from: hub.subscribe(since: nil, epoch: nil, heartbeatInterval: .seconds(3600), stop: stop)) }
        let closed = Task { await Self.take(100, from: hub.subscribe(since: nil, epoch: nil, heartbeatInterval: .seconds(3600))) }
        while hub.waitingReaders < 2 { await Task.yield() }
        stop.fire()
        #expect(await stopped.value.count == 1)
        hub.close()
        #expect(await closed.value.count == 1)
        #expect(hub.waitingReaders == 0)
    }
}
