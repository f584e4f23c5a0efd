public import SettleModel

/// How long a node's kube-proxy takes to program a change: one fixed delay (`2s`) or a uniform
/// range (`0-3s`, `200ms-1.5s`; a unit after the upper bound applies to a bare lower bound too).
public struct LagDistribution: Sendable, Hashable, CustomStringConvertible {
    public var lower: Duration
    public var upper: Duration

    public init(lower: Duration, upper: Duration) {
        self.lower = lower
        self.upper = upper
    }

    /// The distribution `text` names, or `nil` with no valid form (negative, reversed, unparsable).
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            guard let fixed = DurationText.parse(parts[0], maximumSeconds: 3600) else { return nil }
            self.init(lower: fixed, upper: fixed)
        case 2:
            guard let upper = DurationText.parse(parts[1], maximumSeconds: 3600) else { return nil }
            // `0-3s`: a bare lower bound takes the upper bound's unit.
            var lowerText = String(parts[0])
            if !lowerText.isEmpty, lowerText.allSatisfy({ $0.isNumber || $0 == "." }) {
                let unit = parts[1].drop(while: { $0.isNumber || $0 == "." })
                lowerText += unit
            }
            guard let lower = DurationText.parse(lowerText, maximumSeconds: 3600), lower <= upper else { return nil }
            self.init(lower: lower, upper: upper)
        default:
            return nil
        }
    }

    /// One draw, uniform over [lower, upper] at millisecond resolution.
    public func sample(using generator: inout some RandomNumberGenerator) -> Duration {
        let low = lower.milliseconds
        let high = upper.milliseconds
        guard high > low else { return lower }
        return .milliseconds(Int64.random(in: low...high, using: &generator))
    }

    public var description: String {
        lower == upper ? lower.labText : "\(lower.labText)-\(upper.labText)"
    }
}

/// What a deleted pod's preStop does before the pod gets SIGTERM.
public enum LabStrategy: Sendable, Hashable, CustomStringConvertible {
    /// No preStop: SIGTERM as the endpoint starts terminating.
    case none
    /// `sleep S`, today's common practice.
    case sleep(Duration)
    /// `settle wait --ip POD_IP`: SIGTERM once every node has dropped the endpoint.
    case settle
    /// `settle drain pod/NAME`: the pod is relabelled out of the Service, and deleted (SIGTERM)
    /// once every node has dropped it.
    case drain

    /// `none`, `sleep:5`, `sleep:500ms`, `settle`; `nil` for anything else.
    public init?(_ text: String) {
        switch text {
        case "none": self = .none
        case "settle": self = .settle
        case "drain": self = .drain
        default:
            guard text.hasPrefix("sleep:"), let duration = DurationText.parse(text.dropFirst(6), maximumSeconds: 3600) else { return nil }
            self = .sleep(duration)
        }
    }

    public var description: String {
        switch self {
        case .none: "none"
        case .settle: "settle"
        case .drain: "drain"
        case .sleep(let duration): "sleep:\(duration.labText)"
        }
    }
}

extension Duration {
    /// Whole milliseconds (truncated).
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }

    /// `250ms`, `3s`, `1.5s`: the shortest exact form.
    var labText: String {
        let ms = milliseconds
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        if ms < 1000 { return "\(ms)ms" }
        return "\(Double(ms) / 1000)s"
    }
}
