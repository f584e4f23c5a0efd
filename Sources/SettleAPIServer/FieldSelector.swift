import Foundation

/// A parsed field selector (the `fieldSelector` query parameter), e.g. `metadata.name=node-a`.
///
/// Clauses are `path=value`, `path==value` or `path!=value`, joined by commas meaning AND. Any dotted
/// path into the object is accepted; values are compared as strings, as the real server does.
public struct FieldSelector: Hashable, Sendable {
    /// One `path=value` or `path!=value` clause.
    public struct Requirement: Hashable, Sendable {
        /// Dotted path into the object, e.g. `metadata.name`.
        public var path: String
        /// The value compared against, as a string.
        public var value: String
        /// True for `!=`.
        public var negated: Bool
    }

    /// The clauses, all of which must hold.
    public var requirements: [Requirement]

    /// Parses a selector string; an empty string selects everything.
    public init(parsing text: String) throws(SelectorError) {
        requirements = []
        for clause in text.split(separator: ",") {
            let clause = clause.trimmingSpaces()
            if clause.isEmpty { continue }
            if let range = clause.range(of: "!=") {
                requirements.append(.init(path: String(clause[..<range.lowerBound]), value: String(clause[range.upperBound...]), negated: true))
            } else if let range = clause.range(of: "==") ?? clause.range(of: "=") {
                requirements.append(.init(path: String(clause[..<range.lowerBound]), value: String(clause[range.upperBound...]), negated: false))
            } else {
                throw SelectorError(selector: clause)
            }
        }
    }

    /// Selects every object.
    public static let everything = FieldSelector(requirements: [])

    private init(requirements: [Requirement]) { self.requirements = requirements }

    /// Whether the object is selected. A missing field compares as the empty string.
    public func matches(_ object: JSONValue) -> Bool {
        requirements.allSatisfy { requirement in
            let actual = object.string(atPath: requirement.path) ?? ""
            return (actual == requirement.value) != requirement.negated
        }
    }
}
