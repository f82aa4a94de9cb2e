import Pprof
import PprofTestKit

/// What `pprof-report report` prints for a decoded profile: a threads profile as its threads
/// (`ThreadsReport`), any other as the fprof-style report of `Profile.report()` (eprof: its
/// flat table), whose statistics come from the profile's machine-readable comment line.
///
/// ```swift
/// print(try ProfileReport.render(try ProfileSource.load("app.pb.gz")), terminator: "")
/// ```
package enum ProfileReport {
    package static func render(_ profile: DecodedProfile) throws -> String {
        if ThreadsReport.recognizes(profile) { return try ThreadsReport.render(profile) }
        return Profile(decoded: profile).report()
    }
}
