import Pprof
import PprofTestKit

/// A decoded profile as folded stacks for `flamegraph.pl`, inferno or speedscope: one line per
/// distinct stack, `root;child;leaf VALUE`, in the order stacks first appear.
///
/// ```swift
/// print(try FoldedLines.render(profile, sampleType: "calls"), terminator: "")
/// // main;work;parse 3
/// ```
///
/// Samples that share a stack (they differ in labels) are summed; stacks whose sum is zero are
/// left out; names are escaped as `Profile.folded()` escapes them.
package enum FoldedLines {
    /// - Throws: `ReportFailure` for a sample type the profile lacks.
    package static func render(_ profile: DecodedProfile, sampleType: String?) throws -> String {
        let column = try SampleColumn(profile, named: sampleType)
        var order: [String] = []
        var sums: [String: Int64] = [:]
        for stack in profile.stacks where column.index < stack.values.count && !stack.frames.isEmpty {
            let line = stack.frames.map(Profile.foldedName).joined(separator: ";")
            if sums[line] == nil { order.append(line) }
            sums[line, default: 0] &+= stack.values[column.index]
        }
        return order.filter { sums[$0] != 0 }.map { "\($0) \(sums[$0]!)\n" }.joined()
    }
}
