import Foundation
public import SettleKubeClient
import Synchronization

/// Asks who a bearer token belongs to. ``KubeClient`` does it with a TokenReview.
public protocol TokenReviewer: Sendable {
    func reviewToken(_ token: String, audiences: [String]) async throws -> TokenReviewResult
}

extension KubeClient: TokenReviewer {}

/// Who may read the agent's ack stream and state: callers presenting a bearer token that the API
/// server authenticates (TokenReview) for the agent's audience and that belongs to an allowed user
/// — the aggregator's service account, with a projected token (docs/agent-api.md, "Authentication").
///
/// Answers are cached per token (allowed for `allowedFor`, refused for `refusedFor`), so a
/// reconnecting aggregator costs the API server one review a minute, not one per connection. When
/// the API server cannot be asked, the stream is refused (503): fail closed.
public final class StreamAuthenticator: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// The audience the token must have been issued for.
        public var audience: String
        /// Users allowed to read, e.g. `system:serviceaccount:settle-system:settle-aggregator`.
        public var allowedUsers: Set<String>
        public var allowedFor: Duration
        public var refusedFor: Duration
        /// Tokens remembered at most (the oldest answers go first).
        public var cacheLimit: Int

        public init(
            audience: String = StreamAuthenticator.defaultAudience, allowedUsers: Set<String> = [StreamAuthenticator.defaultUser],
            allowedFor: Duration = .seconds(60), refusedFor: Duration = .seconds(10), cacheLimit: Int = 256
        ) {
            self.audience = audience
            self.allowedUsers = allowedUsers
            self.allowedFor = allowedFor
            self.refusedFor = refusedFor
            self.cacheLimit = cacheLimit
        }
    }

    public static let defaultAudience = "settle-agent"
    public static let defaultUser = "system:serviceaccount:settle-system:settle-aggregator"

    /// The outcome for one request.
    public enum Decision: Sendable, Hashable {
        case allowed(user: String)
        /// No token, or one the API server does not authenticate for the audience: 401.
        case unauthenticated(String)
        /// Authenticated, but not an allowed user: 403.
        case forbidden(user: String)
        /// The API server could not be asked: 503.
        case unavailable(String)
    }

    public let configuration: Configuration
    private let reviewer: any TokenReviewer
    private let cache = Mutex<[String: (decision: Decision, until: ContinuousClock.Instant)]>([:])

    public init(configuration: Configuration = .init(), reviewer: any TokenReviewer) {
        self.configuration = configuration
        self.reviewer = reviewer
    }

    /// Decides on a request's `Authorization` header value.
    public func decide(authorization: String?) async -> Decision {
        guard let authorization, authorization.hasPrefix("Bearer ") else {
            return .unauthenticated("a bearer token is required (Authorization: Bearer …)")
        }
        let token = String(authorization.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty else { return .unauthenticated("the bearer token is empty") }
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0[token] }), cached.until > now { return cached.decision }

        let decision: Decision
        do {
            let result = try await reviewer.reviewToken(token, audiences: [configuration.audience])
            if !result.authenticated || !(result.audiences ?? [configuration.audience]).contains(configuration.audience) {
                decision = .unauthenticated("the API server did not authenticate the token for audience \(configuration.audience)"
                    + (result.error.map { ": \($0)" } ?? ""))
            } else if let user = result.username, configuration.allowedUsers.contains(user) {
                decision = .allowed(user: user)
            } else {
                decision = .forbidden(user: result.username ?? "")
            }
        } catch {
            // Not cached: the next request asks again.
            return .unavailable("cannot review the token with the API server: \(error)")
        }
        let lifetime: Duration = if case .allowed = decision { configuration.allowedFor } else { configuration.refusedFor }
        cache.withLock { cache in
            if cache.count >= configuration.cacheLimit {
                cache = cache.filter { $0.value.until > now }
                if cache.count >= configuration.cacheLimit, let oldest = cache.min(by: { $0.value.until < $1.value.until })?.key {
                    cache.removeValue(forKey: oldest)
                }
            }
            cache[token] = (decision, now + lifetime)
        }
        return decision
    }
}
