import Foundation
import Hummingbird
import Logging
import NIOCore
import SettleAcks

/// An agent's `/v1/acks` with nothing in transition, for tests that need agents but no kernel: a
/// snapshot, then a heartbeat every 200 ms, each carrying the EndpointSlice watch `watch()` reports.
enum StandInAckStream {
    /// Serves it on a loopback port; returns the port and the server's task (cancel it to stop).
    static func serve(
        node: String, epoch: String, watch: @escaping @Sendable () async -> String?
    ) async throws -> (port: Int, task: Task<Void, any Error>) {
        let router = Router()
        router.get("/v1/acks") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/x-ndjson"],
                body: ResponseBody { writer in
                    let snapshot = AckMessage.snapshot(
                        AckSnapshot(node: node, epoch: epoch, seq: 0, ready: true, watch: await watch(), acks: [], mode: "nftables"))
                    try await writer.write(ByteBuffer(bytes: AckWire.encode(snapshot)))
                    while !Task.isCancelled {
                        try await Task.sleep(for: .milliseconds(200))
                        let beat = AckMessage.heartbeat(AckHeartbeat(epoch: epoch, seq: 0, time: Date(), ready: true, watch: await watch()))
                        try await writer.write(ByteBuffer(bytes: AckWire.encode(beat)))
                    }
                    try await writer.finish(nil)
                })
        }
        var logger = Logger(label: "settle.test.stand-in-agent")
        logger.logLevel = .critical
        let bound = Shared<Int?>(nil)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { channel in bound.set(channel.localAddress?.port) }, logger: logger)
        let task = Task { try await app.run() }
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let port = bound.get() { return (port, task) }
            try await Task.sleep(for: .milliseconds(10))
        }
        task.cancel()
        throw TestFailure("the stand-in agent for \(node) did not start listening")
    }
}
