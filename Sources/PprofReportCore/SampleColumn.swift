import Pprof
import PprofTestKit

/// One sample type of a decoded profile, chosen by name: which value of each sample a table
/// reads, and how it prints (`wall` in milliseconds, the rest as integers).
///
/// ```swift
/// let column = try SampleColumn(decoded, named: "calls")   // nil name: the profile's default
/// print(column.format(1_234))                               // "1234"
/// ```
package struct SampleColumn: Sendable, Equatable {
    /// The sample type's name, e.g. "calls" or "wall".
    package var name: String
    /// Its unit, e.g. "count" or "nanoseconds".
    package var unit: String
    /// Its position in each sample's values.
    package var index: Int

    /// - Throws: `ReportFailure` when the profile has no sample type of that name.
    package init(_ profile: DecodedProfile, named requested: String?) throws {
        let name = requested ?? profile.defaultSampleType
        guard let index = profile.sampleTypeIndex(name) else {
            let known = profile.sampleTypes.map { profile.string($0.type) }.joined(separator: ", ")
            throw ReportFailure("no sample type '\(name)' in this profile (it has: \(known))")
        }
        self.name = name
        self.unit = profile.string(profile.sampleTypes[index].unit)
        self.index = index
    }

    /// A value for a table: nanoseconds as milliseconds with three decimals and "ms", anything
    /// else as an integer.
    package func format(_ value: Int64) -> String {
        guard unit == "nanoseconds" else { return String(value) }
        let text = FixedPoint.milliseconds(value.magnitude) + "ms"
        return value < 0 ? "-" + text : text
    }

    /// A rate for a normalized table: nanoseconds per second as milliseconds per second
    /// ("12.345ms/s"), anything else per second with one decimal ("120.5/s").
    package func formatRate(_ perSecond: Double) -> String {
        guard unit == "nanoseconds" else { return FixedPoint.format(perSecond, decimals: 1) + "/s" }
        return FixedPoint.format(perSecond / 1e6, decimals: 3) + "ms/s"
    }
}
