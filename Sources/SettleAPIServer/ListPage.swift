/// One page of a LIST answer.
struct ListPage: Sendable {
    var items: [JSONValue]
    var resourceVersion: Int64
    var continueToken: String?
    var remainingItemCount: Int?
}
