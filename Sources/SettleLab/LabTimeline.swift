import Foundation

/// The lab's timeline chart as SVG: one panel per strategy, one row per node, time in seconds
/// since the pod was deleted. On each row: when that node's kube-proxy dropped the pod (blue),
/// the connections from that node that failed (red); across the panel: SIGTERM (orange). Every
/// deletion of the strategy is drawn over the others, so the spread shows too.
public enum LabTimeline {
    static let width = 960.0
    static let left = 150.0
    static let right = 30.0
    static let rowHeight = 26.0
    static let panelTop = 46.0
    static let panelBottom = 40.0
    /// At most this many deletions are drawn per strategy (a soak has hundreds).
    static let drawnPerStrategy = 20

    public static func svg(_ report: LabReport) -> String {
        let deletions = report.strategies.flatMap { s in report.deletions.filter { $0.strategy == s.strategy }.prefix(drawnPerStrategy) }
        let latest = deletions.flatMap { [$0.delay, $0.slowest] + $0.failedAttempts.map(\.offset) }.max() ?? 1000
        let span = Double(max(latest, 1000)) / 1000 + 1  // seconds shown after the deletion
        let start = -0.5
        let plotWidth = width - left - right
        func x(_ milliseconds: Int64) -> Double { left + (Double(milliseconds) / 1000 - start) / (span - start) * plotWidth }

        let panelHeight = panelTop + Double(report.nodes.count) * rowHeight + panelBottom
        let height = 60 + Double(report.strategies.count) * panelHeight
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(fmt(width))" height="\(fmt(height))" viewBox="0 0 \(fmt(width)) \(fmt(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(fmt(left))" y="22" font-size="15" font-weight="bold">settle lab: per-node convergence and SIGTERM, seconds after the pod's deletion</text>
            <g font-size="11"><circle cx="\(fmt(left + 6))" cy="40" r="4" fill="#1f77b4"/><text x="\(fmt(left + 14))" y="44">node's kube-proxy dropped the pod</text>
            <rect x="\(fmt(left + 226))" y="34" width="2" height="12" fill="#d62728"/><text x="\(fmt(left + 234))" y="44">failed connection from that node</text>
            <rect x="\(fmt(left + 446))" y="34" width="3" height="12" fill="#ff7f0e"/><text x="\(fmt(left + 455))" y="44">SIGTERM to the pod</text></g>

            """
        for (panel, summary) in report.strategies.enumerated() {
            let top = 60 + Double(panel) * panelHeight
            let rowsTop = top + panelTop
            let rowsBottom = rowsTop + Double(report.nodes.count) * rowHeight
            out += "<g>\n"
            out +=
                "<text x=\"10\" y=\"\(fmt(top + 22))\" font-size=\"14\" font-weight=\"bold\">\(escape(summary.strategy))</text>"
                + "<text x=\"\(fmt(left))\" y=\"\(fmt(top + 22))\">\(summary.failed) failed of \(summary.connections) connections, SIGTERM after \(LabStatistics.seconds(summary.delayP50)) (p50), \(LabStatistics.seconds(summary.delayMax)) (max); slowest node \(LabStatistics.seconds(summary.slowestMax))</text>\n"
            for (row, node) in report.nodes.enumerated() {
                let y = rowsTop + Double(row) * rowHeight + rowHeight / 2
                let label = node == report.straggler ? "\(node) (straggler)" : node
                out += "<text x=\"10\" y=\"\(fmt(y + 4))\">\(escape(label))</text>"
                out += "<line x1=\"\(fmt(left))\" x2=\"\(fmt(width - right))\" y1=\"\(fmt(y))\" y2=\"\(fmt(y))\" stroke=\"#ddd\"/>\n"
            }
            // Axis: whole seconds.
            var second = Int(start.rounded(.up))
            while Double(second) <= span {
                let sx = x(Int64(second) * 1000)
                out += "<line x1=\"\(fmt(sx))\" x2=\"\(fmt(sx))\" y1=\"\(fmt(rowsTop))\" y2=\"\(fmt(rowsBottom))\" stroke=\"\(second == 0 ? "#444" : "#eee")\"/>"
                out += "<text x=\"\(fmt(sx))\" y=\"\(fmt(rowsBottom + 16))\" text-anchor=\"middle\" fill=\"#555\">\(second)s</text>\n"
                second += 1
            }
            for deletion in report.deletions.filter({ $0.strategy == summary.strategy }).prefix(drawnPerStrategy) {
                let sx = x(deletion.delay)
                out += "<rect x=\"\(fmt(sx - 1.5))\" y=\"\(fmt(rowsTop))\" width=\"3\" height=\"\(fmt(rowsBottom - rowsTop))\" fill=\"#ff7f0e\" opacity=\"0.8\"/>\n"
                for drop in deletion.nodes {
                    guard let row = report.nodes.firstIndex(of: drop.node) else { continue }
                    let y = rowsTop + Double(row) * rowHeight + rowHeight / 2
                    out += "<circle cx=\"\(fmt(x(drop.finished - deletion.deleted)))\" cy=\"\(fmt(y))\" r=\"4\" fill=\"#1f77b4\"/>"
                }
                for failure in deletion.failedAttempts {
                    guard let row = report.nodes.firstIndex(of: failure.node) else { continue }
                    let y = rowsTop + Double(row) * rowHeight + rowHeight / 2
                    out += "<rect x=\"\(fmt(x(failure.offset) - 0.5))\" y=\"\(fmt(y - 8))\" width=\"1\" height=\"16\" fill=\"#d62728\"/>"
                }
                out += "\n"
            }
            out += "</g>\n"
        }
        return out + "</svg>\n"
    }

    static func fmt(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
