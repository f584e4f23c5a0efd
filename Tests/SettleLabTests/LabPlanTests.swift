import Foundation
import SettleModel
import Testing

@testable import SettleLab

@Suite struct LabPlanTests {
    @Test(arguments: [
        ("0-3s", 0, 3000), ("0s-3s", 0, 3000), ("200ms-1.5s", 200, 1500), ("2s", 2000, 2000), ("1-2", 1000, 2000), ("0.5-1s", 500, 1000),
    ])
    func lagForms(text: String, lower: Int64, upper: Int64) throws {
        let lag = try #require(LagDistribution(text))
        #expect(lag.lower == .milliseconds(lower))
        #expect(lag.upper == .milliseconds(upper))
    }

    @Test(arguments: ["", "-", "3s-1s", "a-b", "1-2-3", "-1s", "1s-", "2h"])
    func badLags(text: String) {
        #expect(LagDistribution(text) == nil)
    }

    @Test func lagDrawsStayInRangeAndRepeatFromTheSeed() {
        let lag = LagDistribution(lower: .milliseconds(100), upper: .milliseconds(300))
        var a = SplitMix64(seed: 7)
        var b = SplitMix64(seed: 7)
        let first = (0..<500).map { _ in lag.sample(using: &a) }
        let second = (0..<500).map { _ in lag.sample(using: &b) }
        #expect(first == second)
        #expect(first.allSatisfy { $0 >= .milliseconds(100) && $0 <= .milliseconds(300) })
        #expect(Set(first).count > 50)
        var c = SplitMix64(seed: 1)
        #expect(LagDistribution(lower: .seconds(2), upper: .seconds(2)).sample(using: &c) == .seconds(2))
    }

    @Test func strategies() {
        #expect(LabStrategy("none") == LabStrategy.none)
        #expect(LabStrategy("settle") == .settle)
        #expect(LabStrategy("drain") == .drain)
        #expect(LabStrategy("sleep:5") == .sleep(.seconds(5)))
        #expect(LabStrategy("sleep:500ms") == .sleep(.milliseconds(500)))
        for bad in ["", "sleep", "sleep:", "sleep:x", "Settle", "wait"] { #expect(LabStrategy(bad) == nil, "\(bad)") }
        #expect(LabStrategy.sleep(.milliseconds(1500)).description == "sleep:1.5s")
        #expect(LabStrategy.sleep(.seconds(5)).description == "sleep:5s")
    }

    @Test func configurationProblems() {
        var configuration = LabConfiguration(output: URL(fileURLWithPath: "/tmp"), settle: "settle")
        #expect(configuration.problem == nil)
        configuration.pods = 1
        #expect(configuration.problem?.contains("--pods") == true)
        configuration.pods = 3
        configuration.nodes = 0
        #expect(configuration.problem?.contains("--nodes") == true)
        configuration.nodes = 3
        configuration.strategies = []
        #expect(configuration.problem != nil)
    }

    @Test func addressesStayInTheirSubnetsAndApart() {
        let pods = (1...1000).map(LabNetwork.podIP)
        #expect(Set(pods).count == 1000)
        #expect(pods.allSatisfy { $0.hasPrefix("10.77.") && !$0.hasPrefix("10.77.0.") && IPAddress($0) != nil })
        let nodes = (1...200).map(LabNetwork.nodeIP)
        #expect(Set(nodes).count == 200)
        #expect(nodes.allSatisfy { $0.hasPrefix("10.77.0.") && IPAddress($0) != nil })
    }

    @Test func responseBodies() {
        #expect(LabConnectionResult.body(of: Array("HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nweb-3\n".utf8)) == "web-3")
        #expect(LabConnectionResult.body(of: Array("HTTP/1.0 200 OK\r\nContent-Length: 6\r\n".utf8)) == nil)
        #expect(LabConnectionResult.body(of: []) == nil)
        #expect(LabConnectionResult.body(of: Array("HTTP/1.0 503 x\r\n\r\nweb-3\n".utf8)) == nil)
    }
}
