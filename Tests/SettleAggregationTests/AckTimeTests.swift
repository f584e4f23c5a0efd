import Foundation
import SettleAcks
import SettleModel
import Testing

/// The hand-written reader of the wire's times must agree with Foundation's RFC 3339 parser on
/// everything the wire writes, and hand anything else to it.
@Suite struct AckTimeTests {
    @Test func wireTimesReadLikeFoundation() throws {
        var random = SplitMix64(seed: 7)
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        for _ in 0..<5_000 {
            // 1900…2200, millisecond precision, as the agent writes them.
            let millis = Int64.random(in: -2_208_988_800_000...7_258_118_400_000, using: &random)
            let date = Date(timeIntervalSince1970: Double(millis) / 1000)
            let text = AckWire.formatTime(date)
            let fast = try #require(AckWire.parseWireTime(text), "\(text)")
            let foundation = try style.parse(text)
            #expect(fast == foundation, "\(text): \(fast.timeIntervalSinceReferenceDate) vs \(foundation.timeIntervalSinceReferenceDate)")
            #expect(AckWire.formatTime(fast) == AckWire.formatTime(foundation), "\(text)")
        }
    }

    @Test func otherFormsGoToTheGeneralParser() throws {
        #expect(AckWire.parseWireTime("2026-11-27T17:10:12Z") == Date(timeIntervalSince1970: 1_795_799_412))
        #expect(AckWire.parseWireTime("2026-11-27T17:10:12.5Z") == Date(timeIntervalSince1970: 1_795_799_412.5))
        #expect(AckWire.parseWireTime("2026-11-27T18:10:12+01:00") == nil)
        #expect(AckWire.parseTime("2026-11-27T18:10:12+01:00") == Date(timeIntervalSince1970: 1_795_799_412))
        for bad in ["2026-13-27T17:10:12Z", "2026-02-30T17:10:12Z", "2026-11-27T24:10:12Z", "2026-11-27T17:10:12.Z",
            "2026-11-27 17:10:12Z", "2026-11-27T17:10:1xZ", "", "Z"]
        {
            #expect(AckWire.parseWireTime(bad) == nil, "\(bad)")
        }
        #expect(AckWire.parseWireTime("2024-02-29T00:00:00Z") != nil)
        #expect(AckWire.parseWireTime("2100-02-29T00:00:00Z") == nil)
    }
}
