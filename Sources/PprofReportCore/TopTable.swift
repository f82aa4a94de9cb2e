import Pprof
import PprofTestKit

/// `go tool pprof -top` for one sample type: per function flat, flat%, sum%, cum and cum%,
/// sorted by flat.
///
/// ```swift
/// let profile = try ProfileSource.load("app.pb.gz")
/// print(try TopTable.render(profile, sampleType: "calls", count: 10), terminator: "")
/// // sample type: calls (count), total 10
/// //   flat   flat%    sum%  cum    cum%
/// //      6  60.00%  60.00%    6  60.00%  parse
/// ```
package enum TopTable {
    /// - Parameters:
    ///   - profile: the decoded profile.
    ///   - sampleType: "calls", "wall", …; nil for the profile's default.
    ///   - count: how many functions to show; nil for all.
    /// - Throws: `ReportFailure` for a sample type the profile lacks.
    package static func render(_ profile: DecodedProfile, sampleType: String?, count: Int? = nil) throws -> String {
        let column = try SampleColumn(profile, named: sampleType)
        let totals = FunctionTotals(profile, column: column)
        let rows = totals.sortedByFlat
        let shown = count.map { Array(rows.prefix(max($0, 0))) } ?? rows
        var sum: Int64 = 0
        let cells: [[String]] = shown.map { row in
            sum &+= row.flat
            return [
                column.format(row.flat), percent(row.flat, of: totals.total), percent(sum, of: totals.total),
                column.format(row.cum), percent(row.cum, of: totals.total), row.name,
            ]
        }
        var text = "sample type: \(column.name) (\(column.unit)), total \(column.format(totals.total))\n"
        if shown.count < rows.count {
            text += "showing the top \(shown.count) of \(rows.count) functions\n"
        }
        return text + TextTable.render(header: ["flat", "flat%", "sum%", "cum", "cum%", ""], rows: cells)
    }
}
