/// Who a bearer token belongs to, for the stand-in's TokenReview API.
public struct TokenIdentity: Sendable, Hashable {
    /// e.g. `system:serviceaccount:settle-system:settle-aggregator`.
    public var username: String
    /// The audiences the token was issued for (a projected token's `audience`).
    public var audiences: [String]

    public init(username: String, audiences: [String]) {
        self.username = username
        self.audiences = audiences
    }
}

/// `POST /apis/authentication.k8s.io/v1/tokenreviews`: the answer the real API server gives for
/// the tokens a test registered (``APIServerState/setTokenIdentities(_:)``). A known token whose
/// audiences share none with the requested ones is not authenticated, as upstream.
enum TokenReviews {
    static let groupVersion = "authentication.k8s.io/v1"
    static let resource = "tokenreviews"

    static func review(_ request: JSONValue, identities: [String: TokenIdentity]) throws(StoreError) -> JSONValue {
        guard let token = request.string(atPath: "spec.token"), !token.isEmpty else {
            throw .badRequest("TokenReview needs spec.token")
        }
        let requested: [String] = if case .array(let items)? = request["spec"]?["audiences"] { items.compactMap(\.stringValue) } else { [] }
        var status: JSONValue
        if let identity = identities[token] {
            let granted = requested.isEmpty ? identity.audiences : requested.filter(identity.audiences.contains)
            if granted.isEmpty {
                status = .object(["authenticated": .bool(false), "error": .string("token audiences are invalid")])
            } else {
                status = .object([
                    "authenticated": .bool(true), "user": .object(["username": .string(identity.username)]),
                    "audiences": .array(granted.map(JSONValue.string)),
                ])
            }
        } else {
            status = .object(["authenticated": .bool(false), "error": .string("invalid bearer token")])
        }
        return .object([
            "apiVersion": .string(groupVersion), "kind": "TokenReview",
            "spec": .object(["audiences": .array(requested.map(JSONValue.string))]), "status": status,
        ])
    }
}
