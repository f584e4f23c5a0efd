import Foundation
import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// What the API server said about a bearer token (authentication.k8s.io/v1 TokenReview status).
public struct TokenReviewResult: Sendable, Hashable, Codable {
    public var authenticated: Bool
    /// The token's user, e.g. `system:serviceaccount:settle-system:settle-aggregator`.
    public var username: String?
    /// The requested audiences the token is valid for.
    public var audiences: [String]?
    /// Why the token was not authenticated, when the API server says.
    public var error: String?

    public init(authenticated: Bool, username: String? = nil, audiences: [String]? = nil, error: String? = nil) {
        self.authenticated = authenticated
        self.username = username
        self.audiences = audiences
        self.error = error
    }
}

extension KubeClient {
    /// Asks the API server who `token` belongs to, for `audiences` (a TokenReview: `create` on
    /// `tokenreviews.authentication.k8s.io`, which `system:auth-delegator` grants).
    public func reviewToken(_ token: String, audiences: [String]) async throws -> TokenReviewResult {
        struct Review: Encodable {
            var apiVersion = "authentication.k8s.io/v1"
            var kind = "TokenReview"
            var spec: Spec
            struct Spec: Encodable {
                var token: String
                var audiences: [String]
            }
        }
        struct Answer: Decodable {
            var status: Status?
            struct Status: Decodable {
                var authenticated: Bool?
                var user: User?
                var audiences: [String]?
                var error: String?
            }
            struct User: Decodable { var username: String? }
        }
        let body = try JSONEncoder().encode(Review(spec: .init(token: token, audiences: audiences)))
        let response = try await execute(
            method: .POST, path: "/apis/authentication.k8s.io/v1/tokenreviews", query: [], body: ("application/json", body))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let answer = try JSONDecoder().decode(Answer.self, from: Data(bytes.readableBytesView))
        return TokenReviewResult(
            authenticated: answer.status?.authenticated ?? false, username: answer.status?.user?.username,
            audiences: answer.status?.audiences, error: answer.status?.error)
    }
}
