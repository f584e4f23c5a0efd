/// Durations written as people write them: `500ms`, `2s`, `1.5m`, `1h`, or a bare number of
/// seconds. Used by command-line flags and the aggregator's `wait=` query parameter.
public enum DurationText {
    /// The duration `text` names, or `nil` when it is not one of the forms above, negative, not
    /// finite, or longer than `maximumSeconds`.
    public static func parse(_ text: some StringProtocol, maximumSeconds: Double = 366 * 86_400) -> Duration? {
        let text = text.trimmingPrefix(while: { $0 == " " })
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        var number = Substring(text)
        var scale = 1.0
        for unit in units where text.hasSuffix(unit.suffix) {
            number = Substring(text.dropLast(unit.suffix.count))
            scale = unit.seconds
            break
        }
        // 9e15 s fits Int64 milliseconds; beyond that the conversion below would trap.
        guard number.count <= 32, let value = Double(number), value.isFinite, value >= 0, value * scale <= maximumSeconds,
            value * scale < 9e15
        else {
            return nil
        }
        return .milliseconds(Int64((value * scale * 1000).rounded()))
    }
}
