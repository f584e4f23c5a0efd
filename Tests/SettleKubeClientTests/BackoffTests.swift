import SettleKubeClient
import Testing

/// Reconnect delays: exponential, capped, jittered, reset on success.
struct BackoffTests {
    /// Delays grow by the factor, never exceed the cap, and stay within the jitter band.
    @Test("delays double up to the cap, within the jitter band, and reset")
    func growsAndCaps() {
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(1), factor: 2, jitter: 0.5)
        var random = SystemRandomNumberGenerator()
        let bases: [Duration] = [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)]
        for base in bases {
            let delay = backoff.next(using: &random)
            #expect(delay >= base && delay <= min(base * 1.5, .seconds(1)))
        }
        backoff.reset()
        #expect(backoff.next(using: &random) <= .milliseconds(150))
    }
}
