import Pprof
import PprofTestKit

/// Two profiles compared per function: flat and cum in each and their changes, sorted by the
/// size of the flat change (then of the cum change). The header gives both windows' durations;
/// with `normalize`, every value is per second of its own profile's duration, so that windows
/// of different lengths compare as rates.
///
/// ```swift
/// let base = try ProfileSource.load("before.pb.gz")
/// let new = try ProfileSource.load("after.pb.gz")
/// print(try DiffTable.render(base: base, new: new, sampleType: "calls"), terminator: "")
/// // sample type: calls (count), total 10 -> 13 (+3)
/// // duration: base 1.000 s, new 1.000 s
/// // base flat  base cum  new flat  new cum  flat change  cum change
/// //         6         6         9        9           +3          +3  parse
/// ```
package enum DiffTable {
    /// - Throws: `ReportFailure` when either profile lacks the sample type, or, with
    ///   `normalize`, has no duration.
    package static func render(
        base: DecodedProfile,
        new: DecodedProfile,
        sampleType: String?,
        normalize: Bool = false
    ) throws -> String {
        let baseColumn = try SampleColumn(base, named: sampleType)
        let newColumn = try SampleColumn(new, named: sampleType ?? baseColumn.name)
        if normalize {
            for (which, profile) in [("base", base), ("new", new)] where profile.durationNanos <= 0 {
                throw ReportFailure("--normalize needs each profile's duration, and the \(which) profile has none")
            }
        }
        // Per second of the profile's duration, or as recorded.
        func scale(_ profile: DecodedProfile) -> Double { normalize ? 1e9 / Double(profile.durationNanos) : 1 }
        let (baseScale, newScale) = (scale(base), scale(new))
        let before = FunctionTotals(base, column: baseColumn)
        let after = FunctionTotals(new, column: newColumn)
        let none = FunctionTotals.Row(name: "")
        let rows = Set(before.byName.keys).union(after.byName.keys).map { name in
            let (b, a) = (before.byName[name] ?? none, after.byName[name] ?? none)
            let (baseFlat, baseCum) = (Double(b.flat) * baseScale, Double(b.cum) * baseScale)
            let (newFlat, newCum) = (Double(a.flat) * newScale, Double(a.cum) * newScale)
            return (
                name: name, base: (baseFlat, baseCum), new: (newFlat, newCum), flat: newFlat - baseFlat,
                cum: newCum - baseCum
            )
        }.sorted { x, y in
            if x.flat.magnitude != y.flat.magnitude { return x.flat.magnitude > y.flat.magnitude }
            if x.cum.magnitude != y.cum.magnitude { return x.cum.magnitude > y.cum.magnitude }
            return x.name < y.name
        }
        func format(_ value: Double) -> String {
            normalize ? newColumn.formatRate(value) : newColumn.format(Int64(value.rounded()))
        }
        func signed(_ value: Double) -> String { (value > 0 ? "+" : "") + format(value) }
        let cells = rows.map { row in
            [
                format(row.base.0), format(row.base.1), format(row.new.0), format(row.new.1), signed(row.flat),
                signed(row.cum), row.name,
            ]
        }
        let (baseTotal, newTotal) = (Double(before.total) * baseScale, Double(after.total) * newScale)
        var text = "sample type: \(newColumn.name) (\(newColumn.unit)\(normalize ? " per second" : "")), total "
        text += "\(format(baseTotal)) -> \(format(newTotal)) (\(signed(newTotal - baseTotal)))\n"
        text += "duration: base \(seconds(base.durationNanos)), new \(seconds(new.durationNanos))"
        text += normalize ? "; values per second of each profile's duration\n" : "\n"
        let header = ["base flat", "base cum", "new flat", "new cum", "flat change", "cum change", ""]
        return text + TextTable.render(header: header, rows: cells)
    }

    /// A duration in seconds with three decimals, or "unknown" for a profile without one.
    private static func seconds(_ nanoseconds: Int64) -> String {
        nanoseconds > 0 ? FixedPoint.format(Double(nanoseconds) / 1e9, decimals: 3) + " s" : "unknown"
    }
}
