import SettleModel

/// The rule lines of one sync, per table, before rendering.
struct IPTablesTables {
    var filterRules: [String] = []
    var natChains: [String] = []
    var natRules: [String] = []
}

extension IPAddress {
    var isLoopback: Bool {
        switch self {
        case .v4(let v): v >> 24 == 127
        case .v6(let high, let low): high == 0 && low == 1
        }
    }
}
