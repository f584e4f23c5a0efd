import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SettleAPIServer
import SettleAcks
import SettleAgent
import SettleAggregation
import SettleAggregator
import SettleKubeClient
import SettleTestSupport
import Testing

/// The ack stream and state need a token the API server authenticates (TokenReview) for the
/// agent's audience, of an allowed user; probes and metrics do not. A real agent, the stand-in's
/// TokenReview API, and the real aggregator presenting a token from a file.
@Suite(.enabled(if: ScratchNamespace.isRoot, "needs root for network namespaces"), .serialized)
struct StreamAuthTests {
    typealias E = WebCluster.Endpoint
    static let aggregatorUser = StreamAuthenticator.defaultUser
    static let identities: [String: TokenIdentity] = [
        "good": TokenIdentity(username: aggregatorUser, audiences: ["settle-agent"]),
        "rotated": TokenIdentity(username: aggregatorUser, audiences: ["settle-agent"]),
        "other-audience": TokenIdentity(username: aggregatorUser, audiences: ["https://kubernetes.default.svc"]),
        "someone-else": TokenIdentity(username: "system:serviceaccount:default:curious", audiences: ["settle-agent"]),
    ]

    static func withAuthenticatedAgent(_ body: (AgentHarness) async throws -> Void) async throws {
        try await AgentHarness.with([E(ip: "10.1.0.1"), E(ip: "10.1.0.2")], configure: { $0.streamAuthentication = .init() }) { h in
            await h.server.state.setTokenIdentities(identities)
            try await body(h)
        }
    }

    static func get(_ h: AgentHarness, _ path: String, token: String?) async throws -> (status: Int, headers: HTTPHeaders, body: String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(h.httpPort)\(path)")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await h.http.execute(request, timeout: .seconds(10))
        // A stream never ends: read its first line only.
        var body = ""
        for try await chunk in response.body {
            body += String(buffer: chunk)
            if path.hasPrefix("/v1/acks") ? body.contains("\n") : false { break }
        }
        return (Int(response.status.code), response.headers, body)
    }

    static func tokenReviews(_ h: AgentHarness) async -> Int {
        await h.server.state.recordedRequests.filter { $0.method == "POST" && $0.path.hasSuffix("/tokenreviews") }.count
    }

    @Test func onlyAnAllowedUsersTokenForTheAudienceReadsTheStream() async throws {
        try await Self.withAuthenticatedAgent { h in
            let none = try await Self.get(h, "/v1/acks", token: nil)
            #expect(none.status == 401)
            #expect(none.headers["WWW-Authenticate"].first == "Bearer")
            #expect(try await Self.get(h, "/v1/state", token: nil).status == 401)
            #expect(try await Self.get(h, "/v1/acks", token: "forged").status == 401)
            let audience = try await Self.get(h, "/v1/acks", token: "other-audience")
            #expect(audience.status == 401)
            #expect(audience.body.contains("audience"))
            let someoneElse = try await Self.get(h, "/v1/state", token: "someone-else")
            #expect(someoneElse.status == 403)
            #expect(someoneElse.body.contains("system:serviceaccount:default:curious"))

            let stream = try await Self.get(h, "/v1/acks", token: "good")
            #expect(stream.status == 200)
            #expect(stream.body.contains("\"snapshot\""), "\(stream.body.prefix(200))")
            #expect(try await Self.get(h, "/v1/state", token: "good").status == 200)

            // Probes and metrics stay open: kubelet and Prometheus present no token.
            for path in ["/healthz", "/readyz", "/metrics"] {
                #expect(try await Self.get(h, path, token: nil).status == 200, "\(path)")
            }
        }
    }

    @Test func answersAreCachedAndAnUnreachableAPIServerFailsClosed() async throws {
        try await Self.withAuthenticatedAgent { h in
            #expect(try await Self.get(h, "/v1/state", token: "good").status == 200)
            let afterFirst = await Self.tokenReviews(h)
            #expect(afterFirst == 1)
            for _ in 0..<5 { #expect(try await Self.get(h, "/v1/state", token: "good").status == 200) }
            #expect(await Self.tokenReviews(h) == afterFirst, "a cached answer asks the API server again")

            // A token not yet reviewed while the API server fails: refused (503), not let through, and not cached.
            await h.server.state.inject(Fault(.status(500)), count: 1)
            let refused = try await Self.get(h, "/v1/state", token: "rotated")
            #expect(refused.status == 503)
            #expect(refused.headers["Retry-After"].first == "1")
            #expect(try await Self.get(h, "/v1/state", token: "rotated").status == 200)
        }
    }

    @Test func theAggregatorPresentsTheTokenFromItsFileReReadOnEveryConnection() async throws {
        try await Self.withAuthenticatedAgent { h in
            let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("settle-token-\(UUID().uuidString)")
            try "forged\n".write(to: tokenFile, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: tokenFile) }
            try await h.withAggregator(configure: {
                $0.reconnectMaximum = .milliseconds(200)
                $0.agentTokenFile = tokenFile.path
            }) { port in
                func nodes() async throws -> NodesAnswer {
                    let response = try await h.http.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/nodes"), timeout: .seconds(10))
                    return try AckWire.decoder.decode(
                        NodesAnswer.self, from: Data(String(buffer: try await response.body.collect(upTo: 1 << 20)).utf8))
                }
                // A token the API server does not know: the agent refuses, the node stays unheard.
                try await eventually("the agent to have refused the aggregator's token") { await Self.tokenReviews(h) >= 1 }
                try await Task.sleep(for: .milliseconds(300))
                #expect(try await nodes().counts.healthy == 0)

                // kubelet writes a valid (rotated) token: the next connection presents it.
                try "good\n".write(to: tokenFile, atomically: true, encoding: .utf8)
                try await eventually("the aggregator to read the agent with the new token") { (try? await nodes())?.counts.healthy == 1 }
            }
        }
    }
}
