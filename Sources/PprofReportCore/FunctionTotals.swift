import Pprof
import PprofTestKit

/// pprof's flat and cum per function name for one sample type, as `go tool pprof -top` counts
/// them: flat sums the samples whose leaf is the function, cum the samples whose stack holds it,
/// once per stack however often recursion repeats it.
///
/// ```swift
/// let totals = FunctionTotals(profile, column: try SampleColumn(profile, named: "calls"))
/// print(totals.byName["parse"]?.flat ?? 0)
/// ```
package struct FunctionTotals: Sendable {
    package struct Row: Sendable, Equatable {
        package var name: String
        package var flat: Int64 = 0
        package var cum: Int64 = 0
    }

    /// Every function that appears in a sample, by name.
    package private(set) var byName: [String: Row] = [:]
    /// The sum of the column over all samples: the denominator of the percentages.
    package private(set) var total: Int64 = 0

    package init(_ profile: DecodedProfile, column: SampleColumn) {
        for stack in profile.stacks where column.index < stack.values.count {
            let value = stack.values[column.index]
            total &+= value
            var seen = Set<String>()
            for frame in stack.frames where seen.insert(frame).inserted {
                byName[frame, default: Row(name: frame)].cum &+= value
            }
            if let leaf = stack.frames.last {
                byName[leaf, default: Row(name: leaf)].flat &+= value
            }
        }
    }

    /// Rows by flat descending, then cum descending, then name: `go tool pprof -top`'s order.
    package var sortedByFlat: [Row] {
        byName.values.sorted { a, b in
            if a.flat != b.flat { return a.flat > b.flat }
            if a.cum != b.cum { return a.cum > b.cum }
            return a.name < b.name
        }
    }
}
