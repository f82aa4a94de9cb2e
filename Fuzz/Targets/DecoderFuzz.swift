import Pprof
import PprofReportCore
import PprofTestKit

/// The pprof decoder and everything `pprof-report` does with what it decodes, on arbitrary
/// bytes: a decoded profile or a `PprofDecodingError`, never a trap; and gzip, ours around
/// the system zlib, both ways.
///
/// ```swift
/// DecoderFuzz.check(try profile.pprof())
/// ```
///
/// Inputs that start with the gzip magic bytes go through `Gzip.decompress` inside the decoder;
/// the others are also handed to `Gzip.decompress` directly, and round-tripped through
/// `Gzip.compress`.
package enum DecoderFuzz {
    package static func check(_ input: [UInt8]) {
        checkGzip(input)
        let decoded: DecodedProfile
        do {
            decoded = try DecodedProfile.decode(input)
        } catch is PprofDecodingError {
            return
        } catch {
            fatalError("DecodedProfile.decode threw \(error)")
        }
        checkQueries(decoded)
        checkReports(decoded)
    }

    private static func checkGzip(_ input: [UInt8]) {
        let isGzip = input.count >= 2 && input[0] == 0x1F && input[1] == 0x8B
        if !isGzip {
            // A stream that is not gzip must be refused; the decoder never sees these.
            do { _ = try Gzip.decompress(input, limit: 1 << 20) } catch is Gzip.Failure {} catch {
                fatalError("Gzip.decompress threw \(error)")
            }
            // Compressing costs more than the rest of an input; a quarter of them is plenty.
            if input.first.map({ $0 & 3 == 0 }) ?? true {
                let packed = Gzip.compress(input)
                require((try? Gzip.decompress(packed)) == input, "gzip did not round-trip \(input.count) bytes")
            }
        } else {
            // A small limit, so that the limit's own path runs (a bomb is a refusal, not a trap).
            do { _ = try Gzip.decompress(input, limit: 1 << 12) } catch is Gzip.Failure {} catch {
                fatalError("Gzip.decompress threw \(error)")
            }
        }
    }

    /// What the tests and `pprof-report` ask of a decoded profile.
    private static func checkQueries(_ profile: DecodedProfile) {
        _ = profile.violations()
        _ = profile.sampleTypeNames
        _ = profile.defaultSampleType
        _ = profile.periodTypeName
        _ = profile.comments
        let stacks = profile.stacks
        for type in profile.sampleTypeNames.prefix(3) {
            let name = String(type.prefix { $0 != "/" })
            if let first = stacks.first {
                _ = profile.value(path: first.frames, type: name)
                if let leaf = first.frames.last {
                    _ = profile.flat(leaf, type: name)
                    _ = profile.cumulative(leaf, type: name)
                }
            }
        }
    }

    /// `pprof-report`'s subcommands, and the library's own outputs of the profile rebuilt from
    /// the decoded one, which must themselves decode.
    private static func checkReports(_ decoded: DecodedProfile) {
        let rebuilt = Profile(decoded: decoded)
        _ = rebuilt.report()
        _ = rebuilt.folded()
        let encoded = rebuilt.pprof()
        let again: DecodedProfile
        do {
            again = try DecodedProfile.decode(encoded)
        } catch {
            fatalError("our own encoding of a decoded profile does not decode: \(error)")
        }

        reportTables(decoded, against: again)
    }

    private static func reportTables(_ profile: DecodedProfile, against other: DecodedProfile) {
        guard !profile.sampleTypes.isEmpty else { return }  // ProfileSource refuses these
        for sampleType in [nil, "calls", "wall"] as [String?] {
            refusedOr { _ = try TopTable.render(profile, sampleType: sampleType, count: nil) }
            refusedOr { _ = try TopTable.render(profile, sampleType: sampleType, count: 3) }
            refusedOr { _ = try FoldedLines.render(profile, sampleType: sampleType) }
            refusedOr { _ = try DiffTable.render(base: profile, new: profile, sampleType: sampleType) }
            refusedOr { _ = try DiffTable.render(base: other, new: profile, sampleType: sampleType) }
        }
    }

    /// Runs `body`, which may refuse with a `ReportFailure` (a sample type the profile lacks).
    private static func refusedOr(_ body: () throws -> Void) {
        do { try body() } catch is ReportFailure {} catch {
            fatalError("a report threw \(error)")
        }
    }
}
