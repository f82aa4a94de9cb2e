import ArgumentParser
import Pprof
import PprofReportCore

#if canImport(Glibc)
import Glibc
#endif

/// `pprof-report`: reads a pprof profile (a file or an http:// URL) and prints what
/// `go tool pprof` would, where Go is not installed.
@main
struct PprofReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pprof-report",
        abstract: "Prints a pprof profile (a .pb.gz file or an http:// URL) as text, without Go.",
        discussion: """
            Each PROFILE is a path or an http:// URL, fetched with one GET as given (for example \
            http://127.0.0.1:6060/debug/pprof/profile?seconds=5). Gzipped and plain protobuf are \
            both read. A profile that cannot be read prints one line on stderr and exits 1.
            """,
        subcommands: [Report.self, Top.self, Folded.self, Diff.self],
        defaultSubcommand: Report.self
    )
}

/// Runs `body`; a `ReportFailure` becomes one line on stderr and exit status 1.
func reporting(_ body: () throws -> String) throws {
    do {
        print(try body(), terminator: "")
    } catch let failure as ReportFailure {
        let line = Array("pprof-report: \(failure)\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        throw ExitCode(1)
    }
}

struct SampleIndexOption: ParsableArguments {
    @Option(
        name: .customLong("sample-index"),
        help: """
            The sample type to show: calls or wall; alloc_objects, alloc_space, inuse_objects or \
            inuse_space in a memory profile (default: the profile's default).
            """
    )
    var sampleIndex: String?
}

extension PprofReport {
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The fprof-style report: each function with its callers above and callees below.",
            discussion: """
                CNT is calls, ACC the time in the function and what it called (recursion counted \
                once), OWN the time in the function itself, both in milliseconds, each also as a \
                share of the total own time; ACC/CALL is ACC per call in microseconds. Blocks are \
                sorted by ACC (by CNT for a cprof profile, which has no times). An eprof profile, \
                which has no call paths, is one flat table: CNT, OWN, OWN % and OWN/CALL per \
                function. The same report as Profile.report() and the endpoint's debug=1. A threads \
                profile (/debug/pprof/threads) prints its stacks, each with how many threads are \
                in it, which, and their labels, then the functions by threads inside them.
                """
        )

        @Argument(help: "A profile: a path or an http:// URL.")
        var profile: String

        func run() throws {
            try reporting { try ProfileReport.render(try ProfileSource.load(profile)) }
        }
    }

    struct Top: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per function: flat, flat%, sum%, cum and cum%, sorted by flat, as go tool pprof -top.",
            discussion: """
                flat counts the samples whose leaf is the function (its own calls or own time), \
                cum those whose stack holds it (recursion counted once). wall is shown in \
                milliseconds.
                """
        )

        @OptionGroup var sample: SampleIndexOption

        @Option(name: [.customShort("n"), .long], help: "Show only the first N functions.")
        var count: Int?

        @Argument(help: "A profile: a path or an http:// URL.")
        var profile: String

        func validate() throws {
            if let count, count < 0 { throw ValidationError("--count must be 0 or more") }
        }

        func run() throws {
            try reporting {
                try TopTable.render(try ProfileSource.load(profile), sampleType: sample.sampleIndex, count: count)
            }
        }
    }

    struct Folded: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Folded stacks, one line per stack: root;child;leaf VALUE.",
            discussion: """
                The input of flamegraph.pl, inferno and speedscope: \
                pprof-report folded app.pb.gz > app.folded; flamegraph.pl app.folded > app.svg. \
                VALUE is the stack's own value of the sample type (wall: nanoseconds).
                """
        )

        @OptionGroup var sample: SampleIndexOption

        @Argument(help: "A profile: a path or an http:// URL.")
        var profile: String

        func run() throws {
            try reporting { try FoldedLines.render(try ProfileSource.load(profile), sampleType: sample.sampleIndex) }
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compares two profiles per function: flat and cum in each and the change (NEW minus BASE).",
            discussion: """
                Functions are sorted by the size of their flat change, then of their cum change. \
                The header gives each profile's duration. With --normalize every value is per \
                second of its own profile's duration (calls/s, ms of wall per s), so that windows \
                of different lengths compare as rates.
                """
        )

        @OptionGroup var sample: SampleIndexOption

        @Flag(help: "Divide each profile's values by its duration: rates per second, comparable across windows.")
        var normalize = false

        @Argument(help: "The profile to compare against: a path or an http:// URL.")
        var base: String

        @Argument(help: "The profile to compare: a path or an http:// URL.")
        var new: String

        func run() throws {
            try reporting {
                try DiffTable.render(
                    base: try ProfileSource.load(base),
                    new: try ProfileSource.load(new),
                    sampleType: sample.sampleIndex,
                    normalize: normalize
                )
            }
        }
    }
}
