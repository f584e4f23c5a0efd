import Foundation

/// A parsed Kubernetes label selector (the `labelSelector` query parameter).
///
/// Supports the set-based grammar clients send: `key`, `!key`, `key=value`, `key==value`,
/// `key!=value`, `key in (a,b)`, `key notin (a,b)`, joined by commas meaning AND. kube-proxy's
/// own selector is `!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless`.
public struct LabelSelector: Hashable, Sendable {
    /// One clause of the selector.
    public enum Requirement: Hashable, Sendable {
        case exists(String)
        case doesNotExist(String)
        case equals(String, String)
        case notEquals(String, String)
        case `in`(String, Set<String>)
        case notIn(String, Set<String>)
    }

    /// The clauses, all of which must hold.
    public var requirements: [Requirement]

    /// Parses a selector string; an empty string selects everything.
    public init(parsing text: String) throws(SelectorError) {
        requirements = []
        for clause in Self.splitClauses(text) {
            let clause = clause.trimmingSpaces()
            if clause.isEmpty { continue }
            requirements.append(try Self.parseClause(clause))
        }
    }

    /// Selects every object.
    public static let everything = LabelSelector(requirements: [])

    private init(requirements: [Requirement]) { self.requirements = requirements }

    /// Whether an object with these labels is selected.
    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { requirement in
            switch requirement {
            case .exists(let key): labels[key] != nil
            case .doesNotExist(let key): labels[key] == nil
            case .equals(let key, let value): labels[key] == value
            case .notEquals(let key, let value): labels[key] != value
            case .in(let key, let values): labels[key].map(values.contains) ?? false
            case .notIn(let key, let values): !(labels[key].map(values.contains) ?? false)
            }
        }
    }

    /// Splits at commas that are not inside parentheses.
    private static func splitClauses(_ text: String) -> [String] {
        var clauses: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            switch character {
            case "(": depth += 1; current.append(character)
            case ")": depth -= 1; current.append(character)
            case "," where depth == 0: clauses.append(current); current = ""
            default: current.append(character)
            }
        }
        clauses.append(current)
        return clauses
    }

    private static func parseClause(_ clause: String) throws(SelectorError) -> Requirement {
        if clause.hasPrefix("!") {
            let key = String(clause.dropFirst()).trimmingSpaces()
            guard !key.isEmpty else { throw SelectorError(selector: clause) }
            return .doesNotExist(key)
        }
        if let range = clause.range(of: "!=") {
            return .notEquals(clause[..<range.lowerBound].trimmingSpaces(), clause[range.upperBound...].trimmingSpaces())
        }
        if let range = clause.range(of: "==") ?? clause.range(of: "=") {
            return .equals(clause[..<range.lowerBound].trimmingSpaces(), clause[range.upperBound...].trimmingSpaces())
        }
        for (word, negated) in [(" notin ", true), (" in ", false)] {
            if let range = clause.range(of: word) {
                let key = clause[..<range.lowerBound].trimmingSpaces()
                var list = clause[range.upperBound...].trimmingSpaces()
                guard list.hasPrefix("("), list.hasSuffix(")") else { throw SelectorError(selector: clause) }
                list = String(list.dropFirst().dropLast())
                let values = Set(list.split(separator: ",").map { $0.trimmingSpaces() })
                return negated ? .notIn(key, values) : .in(key, values)
            }
        }
        guard !clause.contains(" ") else { throw SelectorError(selector: clause) }
        return .exists(clause)
    }
}

/// A selector the stand-in cannot parse; the server answers 400 as the real one does.
public struct SelectorError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The clause that failed to parse.
    public var selector: String
    /// One sentence for logs and test failures.
    public var description: String { "unable to parse requirement: \(selector)" }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
