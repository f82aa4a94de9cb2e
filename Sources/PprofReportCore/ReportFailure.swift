/// Why the report tool cannot go on, in one line for stderr: a missing file, an HTTP error,
/// bytes that are not a profile, an unknown sample type.
///
/// ```swift
/// do { _ = try ProfileSource.load("missing.pb.gz") } catch let failure as ReportFailure {
///     print(failure)   // "cannot read missing.pb.gz: No such file or directory"
/// }
/// ```
package struct ReportFailure: Error, CustomStringConvertible, Equatable {
    package var description: String

    package init(_ description: String) {
        self.description = description
    }
}
