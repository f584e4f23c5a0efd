import ArgumentParser
import Foundation

/// A duration flag value: `500ms`, `2s`, `1.5m`, `1h`, or a bare number of seconds.
struct DurationArgument: ExpressibleByArgument, Sendable, CustomStringConvertible {
    var duration: Duration
    var text: String

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces)
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        var number = Substring(text)
        var scale = 1.0
        for unit in units where text.hasSuffix(unit.suffix) {
            number = text.dropLast(unit.suffix.count)
            scale = unit.seconds
            break
        }
        guard let value = Double(number), value.isFinite, value >= 0, value * scale <= 366 * 86_400 else { return nil }
        self.duration = .milliseconds(Int64((value * scale * 1000).rounded()))
        self.text = text
    }

    init(_ text: String) {
        self.init(argument: text)!
    }

    var description: String { text }
    var defaultValueDescription: String { text }
}
