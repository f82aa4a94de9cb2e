import Pprof

/// Right-aligned columns of text, the last column (a function name) left-aligned, as
/// `go tool pprof -top` prints them.
///
/// ```swift
/// print(TextTable.render(header: ["flat", "name"], rows: [["3", "parse"]]), terminator: "")
/// ```
enum TextTable {
    static func render(header: [String], rows: [[String]]) -> String {
        let numeric = header.count - 1
        var widths = header.prefix(numeric).map(\.count)
        for row in rows {
            for column in 0..<numeric { widths[column] = max(widths[column], row[column].count) }
        }
        func line(_ cells: [String]) -> String {
            var text = ""
            for column in 0..<numeric {
                text += String(repeating: " ", count: widths[column] - cells[column].count + (column == 0 ? 0 : 2))
                text += cells[column]
            }
            return text + (cells[numeric].isEmpty ? "" : "  " + cells[numeric]) + "\n"
        }
        return ([header] + rows).map(line).joined()
    }
}

/// Percentages with two decimals and a `%`, 0 when the total is 0.
func percent(_ value: Int64, of total: Int64) -> String {
    guard total != 0 else { return "0.00%" }
    return FixedPoint.format(Double(value) / Double(total) * 100, decimals: 2) + "%"
}
