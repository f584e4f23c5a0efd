import Foundation
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

@testable import SettleLab

@Suite struct LabReportTests {
    static func deletion(_ strategy: String, at deleted: Int64, sigterm: Int64, drops: [(String, Int64, Int64)]) -> LabDeletion {
        LabDeletion(
            strategy: strategy, pod: "web-\(deleted)", ip: "10.77.1.1", deleted: deleted, sigterm: sigterm, waitStatus: nil,
            nodes: drops.map { .init(node: $0.0, lagMilliseconds: $0.1 - deleted, started: $0.1, finished: $0.2) })
    }

    @Test func attemptsGoToTheDeletionWhoseWindowTheyStartedIn() {
        var deletions = [
            Self.deletion("none", at: 1000, sigterm: 1000, drops: [("node-1", 1500, 1510)]),
            Self.deletion("settle", at: 5000, sigterm: 7000, drops: [("node-1", 6900, 6910)]),
        ]
        let attempts: [LabAttribution.Attempt] = [
            .init(node: "node-1", started: 500, result: .refused),  // before any deletion
            .init(node: "node-1", started: 999, result: .ok),
            .init(node: "node-1", started: 1000, result: .refused),  // the first window starts inclusive
            .init(node: "node-2", started: 1200, result: .timeout),
            .init(node: "node-2", started: 4999, result: .ok),
            .init(node: "node-1", started: 5000, result: .ok),
            .init(node: "node-1", started: 9000, result: .reset),  // the last window is open-ended
        ]
        let outside = LabAttribution.attribute(attempts, to: &deletions)
        #expect(outside == 1)
        #expect(deletions[0].connections == 3)
        #expect(deletions[0].failures == ["node-1": 1, "node-2": 1])
        #expect(deletions[0].failedAttempts.map(\.offset) == [0, 200])
        #expect(deletions[1].connections == 2)
        #expect(deletions[1].failures == ["node-1": 1])
        #expect(deletions[1].failedAttempts.first?.result == .reset)
    }

    @Test func clientLines() {
        #expect(LabAttribution.Attempt(node: "n", line: "1700000000123 ok web-1") == .init(node: "n", started: 1_700_000_000_123, result: .ok))
        #expect(LabAttribution.Attempt(node: "n", line: "17 refused -")?.result == .refused)
        for bad in ["listening web-1 :8080", "17 maybe -", "x ok web-1", "17 ok", ""] {
            #expect(LabAttribution.Attempt(node: "n", line: Substring(bad)) == nil, "\(bad)")
        }
    }

    @Test func earlyMeansSigtermBeforeANodeStartedDropping() {
        // A node still mid-`nft -f` at SIGTERM is not counted early: its kernel may already have changed.
        #expect(!Self.deletion("settle", at: 0, sigterm: 2000, drops: [("a", 1000, 1010), ("b", 1995, 2005)]).early)
        #expect(Self.deletion("settle", at: 0, sigterm: 2000, drops: [("a", 1000, 1010), ("b", 2001, 2010)]).early)
        let d = Self.deletion("settle", at: 100, sigterm: 2100, drops: [("a", 1000, 1010), ("b", 2000, 2050)])
        #expect(d.delay == 2000)
        #expect(d.slowest == 1950)
    }

    @Test func summariesPerStrategyInRunOrder() {
        var deletions = [
            Self.deletion("settle", at: 0, sigterm: 3000, drops: [("node-1", 2900, 2950)]),
            Self.deletion("settle", at: 10_000, sigterm: 11_000, drops: [("node-1", 10_900, 10_950)]),
            Self.deletion("none", at: 20_000, sigterm: 20_000, drops: [("node-1", 21_000, 21_010)]),
        ]
        deletions[2].failures = ["node-1": 4]
        let report = LabReport(nodes: ["node-1"], straggler: nil, lag: "0s-3s", ratePerNode: 50, deletions: deletions, failedOutside: 0)
        #expect(report.strategies.map(\.strategy) == ["settle", "none"])
        let settle = report.strategies[0]
        #expect(settle.deletions == 2)
        #expect(settle.delayP50 == 1000)
        #expect(settle.delayMax == 3000)
        #expect(settle.slowestMax == 2950)
        #expect(settle.overheadMax == 50)
        #expect(settle.early == 0)
        #expect(report.strategies[1].failed == 4)
        #expect(report.strategies[1].early == 1)
        #expect(report.markdown.contains("| `none` | 1 | 0 | 4 | node-1: 4 |"))
    }

    @Test func percentiles() {
        #expect(LabStatistics.percentile([], 0.5) == 0)
        #expect(LabStatistics.percentile([5], 0.99) == 5)
        #expect(LabStatistics.percentile([1, 2, 3, 4], 0.5) == 2)
        #expect(LabStatistics.percentile(Array(1...100), 0.99) == 99)
        #expect(LabStatistics.seconds(6070) == "6.07 s")
        #expect(LabStatistics.seconds(-40) == "-0.04 s")
        #expect(LabStatistics.seconds(5) == "0.01 s")
    }

    @Test func timelineIsWellFormedSVGWithAPanelPerStrategy() throws {
        var deletions = [
            Self.deletion("none", at: 0, sigterm: 0, drops: [("node-1", 900, 910), ("node-2 <&>", 2000, 2010)]),
            Self.deletion("settle", at: 10_000, sigterm: 12_050, drops: [("node-1", 11_000, 11_010), ("node-2 <&>", 12_000, 12_010)]),
        ]
        deletions[0].failedAttempts = [.init(node: "node-2 <&>", offset: 300, result: .refused)]
        let report = LabReport(
            nodes: ["node-1", "node-2 <&>"], straggler: "node-2 <&>", lag: "0s-1s", ratePerNode: 50, deletions: deletions, failedOutside: 0)
        let svg = LabTimeline.svg(report)
        let parser = XMLParser(data: Data(svg.utf8))
        let collector = ElementCounter()
        parser.delegate = collector
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        #expect(collector.counts["svg"] == 1)
        // SIGTERM bars: one per deletion; drops: one circle per node per deletion, plus the legend's.
        #expect(collector.counts["circle"] == 4 + 1)
        #expect(svg.contains("node-2 &lt;&amp;&gt; (straggler)"))
        #expect(svg.contains(">none<") && svg.contains(">settle<"))
    }
}

private final class ElementCounter: NSObject, XMLParserDelegate {
    var counts: [String: Int] = [:]
    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        counts[elementName, default: 0] += 1
    }
}
