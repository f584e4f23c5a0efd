import SettleModel

/// Renders a snapshot as an aligned text table, one line per service port.
enum DataplaneTable {
    static func render(_ snapshot: DataplaneSnapshot) -> String {
        var rows: [[String]] = [["SERVICE PORT", "PROTO", "FRONTENDS", "ENDPOINTS"]]
        for port in snapshot.servicePorts {
            let name = port.name?.description ?? "-"
            let frontends = port.frontends.map { f in
                let address = f.ip.map { $0.hostPort(f.port) } ?? "*:\(f.port)"
                return "\(f.kind.rawValue) \(address)"
            }
            let endpoints = port.endpoints.isEmpty ? "(none)" : port.endpoints.map(\.description).joined(separator: " ")
            rows.append([name, port.protocol.rawValue, frontends.joined(separator: ", "), endpoints])
        }
        var out = "mode: \(snapshot.mode.rawValue), \(snapshot.servicePorts.count) service ports\n"
        out += TextTable.render(rows)
        return out
    }
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
enum TextTable {
    static func render(_ rows: [[String]]) -> String {
        guard let columns = rows.map(\.count).max() else { return "" }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (i, cell) in row.enumerated() where i < columns - 1 { widths[i] = max(widths[i], cell.count) }
        }
        var out = ""
        for row in rows {
            var line = ""
            for (i, cell) in row.enumerated() {
                line += i < columns - 1 ? cell.padding(toLength: widths[i]) + "  " : cell
            }
            while line.hasSuffix(" ") { line.removeLast() }
            out += line + "\n"
        }
        return out
    }
}

extension String {
    func padding(toLength length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }
}
