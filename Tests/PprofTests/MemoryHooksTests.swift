import Foundation
import PprofTestSupport
import Testing

/// The allocation hooks (PprofMemory), through a child process: pprof-memory-fixture links them,
/// this bundle does not (it would interpose malloc in every test), so the fixture is found beside
/// the bundle rather than as a dependency. Under the address or thread sanitizer the hooks stand
/// aside: each mode must then say so and still run to its end.
@Suite(.serialized) struct MemoryHooksTests {
    static var fixture: String { MemoryFixture.path }

    /// Runs the fixture in `mode` with `environment`; checks that it exits 0 and prints every
    /// line of `expected` (only the standing-aside line under a sanitizer).
    @discardableResult
    static func run(
        _ mode: [String],
        environment: [String: String] = [:],
        expecting expected: [String]
    ) throws -> String {
        try #require(
            FileManager.default.isExecutableFile(atPath: fixture),
            "\(fixture) is missing: `swift build` builds it (no test target depends on it)"
        )
        let run = try ChildProcess.run(fixture, mode, environment: environment, mergingStreams: true)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(run.exited && run.status == 0, "\(mode) ended with \(run.status):\n\(run.stdout)")
        #expect(!lines.contains { $0.hasPrefix("FAIL") }, "\(mode):\n\(run.stdout)")
        if let sanitizer = activeSanitizer {
            #expect(lines.first?.hasPrefix("standing aside: the \(sanitizer) sanitizer") == true, "\(run.stdout)")
            return run.stdout
        }
        for line in expected {
            #expect(lines.contains(line), "\(mode) did not print \"\(line)\":\n\(run.stdout)")
        }
        return run.stdout
    }

    static let counts = ["ok counts unscoped objects 31 bytes 3668", "ok counts header objects 31 bytes 3668"]

    @Test func theHooksAreActiveWithTheDefaultRate() throws {
        try Self.run(["status"], expecting: ["active rate 524288"])
        try Self.run(["status"], environment: ["PPROF_MEMORY_RATE": "4096"], expecting: ["active rate 4096"])
    }

    @Test func memoryZeroSwitchesThemOff() throws {
        guard activeSanitizer == nil else { return }  // standing aside comes first
        try Self.run(
            ["counts"],
            environment: ["PPROF_MEMORY": "0", "PPROF_TRACK_THREADS": "1"],
            expecting: ["switched off"]
        )
    }

    @Test(arguments: ["1", "64", "524288", "0"])
    func countsAreExactAtEveryRate(rate: String) throws {
        try Self.run(
            ["counts"],
            environment: ["PPROF_MEMORY_RATE": rate, "PPROF_TRACK_THREADS": "1"],
            expecting: ["active rate \(rate)"] + Self.counts
        )
    }

    @Test func everyBlockIsSampledAtRateOneAndTheModelHolds() throws {
        let output = try Self.run(
            ["model", "20000"],
            environment: ["PPROF_MEMORY_RATE": "1"],
            expecting: ["active rate 1"]
        )
        if activeSanitizer == nil {
            #expect(output.contains("ok model live sampled slots"), "\(output)")
            #expect(output.contains("ok model 20000 operations"), "\(output)")
        }
    }

    @Test(arguments: ["64", "524288"])
    func theModelHoldsWhenSampling(rate: String) throws {
        let output = try Self.run(["model", "20000"], environment: ["PPROF_MEMORY_RATE": rate], expecting: [])
        if activeSanitizer == nil { #expect(output.contains("ok model 20000 operations"), "\(output)") }
    }

    @Test(arguments: ["1", "524288"])
    func sixtyFourThreadsFreeingEachOthersBlocksCountExactly(rate: String) throws {
        try Self.run(
            ["threads"],
            environment: ["PPROF_MEMORY_RATE": rate, "PPROF_TRACK_THREADS": "1"],
            expecting: ["ok threads 64 objects 12800 bytes 12289200"]
        )
    }

    @Test(arguments: ["1", "524288"])
    func shortLivedThreadsComeAndGo(rate: String) throws {
        try Self.run(["churn", "300"], environment: ["PPROF_MEMORY_RATE": rate], expecting: ["ok churn 300 threads"])
    }

    /// 10 000 threads that each allocate inside a scope and exit (their rings retired, glibc
    /// freeing after their TLS destructors): the path's counts are exact over all of them, and
    /// resident memory does not grow with the number of threads.
    @Test func tenThousandThreadsInAScopeCountExactlyInBoundedMemory() throws {
        let output = try Self.run(["scoped-churn", "10000"], expecting: [])
        if activeSanitizer == nil {
            #expect(output.contains("ok scoped churn 10000 threads objects 500000 bytes 212000000"), "\(output)")
        }
    }

    @Test func childrenOfForkAllocate() throws {
        try Self.run(
            ["fork"],
            environment: ["PPROF_MEMORY_RATE": "1"],
            expecting: ["ok fork 20 children allocated and exited 0"]
        )
    }

    @Test func aDlopenedLibraryAllocatesThroughTheHooks() throws {
        let output = try Self.run(["dlopen"], environment: ["PPROF_TRACK_THREADS": "1"], expecting: [])
        if activeSanitizer == nil { #expect(output.contains("ok dlopen libz compress counted"), "\(output)") }
    }

    @Test func aSampledBlockKnowsTheFunctionThatAllocatedIt() throws {
        let output = try Self.run(["frames"], environment: ["PPROF_MEMORY_RATE": "1"], expecting: [])
        if activeSanitizer == nil {
            #expect(output.contains("ok frames"), "\(output)")
            #expect(output.contains("allocateInNamedFunction"), "\(output)")
        }
    }
}
