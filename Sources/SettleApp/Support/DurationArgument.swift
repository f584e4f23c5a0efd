import ArgumentParser
import Foundation
import SettleModel

/// A duration flag value: `500ms`, `2s`, `1.5m`, `1h`, or a bare number of seconds.
struct DurationArgument: ExpressibleByArgument, Sendable, CustomStringConvertible {
    var duration: Duration
    var text: String

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces)
        guard let duration = DurationText.parse(text) else { return nil }
        self.duration = duration
        self.text = text
    }

    init(_ text: String) {
        self.init(argument: text)!
    }

    var description: String { text }
    var defaultValueDescription: String { text }
}
