import Pprof
import PprofTestKit

/// Two profiles compared per function: flat and cum in each and their changes, sorted by the
/// size of the flat change (then of the cum change).
///
/// ```swift
/// let base = try ProfileSource.load("before.pb.gz")
/// let new = try ProfileSource.load("after.pb.gz")
/// print(try DiffTable.render(base: base, new: new, sampleType: "calls"), terminator: "")
/// // sample type: calls (count), total 10 -> 13 (+3)
/// // base flat  base cum  new flat  new cum  flat change  cum change
/// //         6         6         9        9           +3          +3  parse
/// ```
package enum DiffTable {
    /// - Throws: `ReportFailure` when either profile lacks the sample type.
    package static func render(base: DecodedProfile, new: DecodedProfile, sampleType: String?) throws -> String {
        let baseColumn = try SampleColumn(base, named: sampleType)
        let newColumn = try SampleColumn(new, named: sampleType ?? baseColumn.name)
        let before = FunctionTotals(base, column: baseColumn)
        let after = FunctionTotals(new, column: newColumn)
        let none = FunctionTotals.Row(name: "")
        let rows = Set(before.byName.keys).union(after.byName.keys).map { name in
            let (b, a) = (before.byName[name] ?? none, after.byName[name] ?? none)
            return (name: name, base: b, new: a, flat: a.flat &- b.flat, cum: a.cum &- b.cum)
        }.sorted { x, y in
            if x.flat.magnitude != y.flat.magnitude { return x.flat.magnitude > y.flat.magnitude }
            if x.cum.magnitude != y.cum.magnitude { return x.cum.magnitude > y.cum.magnitude }
            return x.name < y.name
        }
        func signed(_ value: Int64) -> String { (value > 0 ? "+" : "") + newColumn.format(value) }
        let cells = rows.map { row in
            [
                baseColumn.format(row.base.flat), baseColumn.format(row.base.cum), newColumn.format(row.new.flat),
                newColumn.format(row.new.cum), signed(row.flat), signed(row.cum), row.name,
            ]
        }
        let change = after.total &- before.total
        var text = "sample type: \(newColumn.name) (\(newColumn.unit)), total "
        text += "\(baseColumn.format(before.total)) -> \(newColumn.format(after.total)) (\(signed(change)))\n"
        let header = ["base flat", "base cum", "new flat", "new cum", "flat change", "cum change", ""]
        return text + TextTable.render(header: header, rows: cells)
    }
}
