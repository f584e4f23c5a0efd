/// Exponential backoff with jitter between reconnect attempts.
///
/// Each failure doubles the base delay up to ``maximum``; the actual wait is the base plus a random
/// share of it (`jitter` 1.0 = up to double), so thousands of agents restarted together do not retry in
/// lockstep. Pure: the random source is a parameter.
public struct Backoff: Hashable, Sendable {
    /// Delay after the first failure.
    public var initial: Duration
    /// Upper bound on any delay.
    public var maximum: Duration
    /// Growth per consecutive failure.
    public var factor: Double
    /// Random extra share of the base delay (0 = none, 1 = up to double).
    public var jitter: Double
    /// Failures since the last ``reset()``.
    public private(set) var attempts = 0

    /// client-go's defaults: 800 ms doubling to 30 s, full jitter.
    public init(initial: Duration = .milliseconds(800), maximum: Duration = .seconds(30), factor: Double = 2, jitter: Double = 1) {
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
    }

    /// The wait before the next attempt; grows with each call.
    public mutating func next(using random: inout some RandomNumberGenerator) -> Duration {
        let base = min(initial * pow(factor, attempts), maximum)
        attempts += 1
        let extra = base * (jitter * Double.random(in: 0..<1, using: &random))
        return min(base + extra, maximum)
    }

    /// The wait before the next attempt, with the system random source.
    public mutating func next() -> Duration {
        var random = SystemRandomNumberGenerator()
        return next(using: &random)
    }

    /// Call after a success: the next failure waits ``initial`` again.
    public mutating func reset() { attempts = 0 }

    private func pow(_ base: Double, _ exponent: Int) -> Double {
        (0..<min(exponent, 64)).reduce(1) { value, _ in value * base }
    }
}
