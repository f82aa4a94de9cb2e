import Foundation
import Pprof
import PprofTestKit
import Testing

@Suite struct EncodingTests {
    private func decode(_ profile: Profile) throws -> DecodedProfile {
        let bytes = profile.pprof()
        #expect(Array(bytes.prefix(2)) == [0x1F, 0x8B], "pprof() is gzipped")
        return try DecodedProfile.decode(bytes)
    }

    @Test func nestedProfileHasExactValuesPerPath() throws {
        let decoded = try decode(EncodingFixtures.nested)
        #expect(decoded.violations() == [])
        #expect(decoded.sampleTypeNames == ["calls/count", "wall/nanoseconds"])
        #expect(decoded.defaultSampleType == "wall")
        #expect(decoded.periodTypeName == "wall/nanoseconds")
        #expect(decoded.period == 1)
        #expect(decoded.samples.count == 7, "the idle node has no value and no sample")

        let expected: [([String], Int64, Int64)] = [
            (["main"], 1, 2_000_000),
            (["main", "work"], 2, 5_000_000),
            (["main", "work", "parse"], 3, 3_000_000),
            (["main", "parse"], 1, 1_000_000),
            (["a"], 1, 100_000),
            (["a", "a"], 1, 200_000),
            (["a", "a", "a"], 1, 300_000),
        ]
        for (path, calls, wall) in expected {
            #expect(decoded.value(path: path, type: "calls") == calls, "\(path)")
            #expect(decoded.value(path: path, type: "wall") == wall, "\(path)")
        }
        #expect(decoded.value(path: ["work"], type: "wall") == nil)
        #expect(decoded.value(path: ["idle"], type: "calls") == nil)
        #expect(decoded.value(path: ["main"], type: "cpu") == nil)
        #expect(decoded.stacks.map(\.frames) == expected.map(\.0), "one sample per node, in node order")
    }

    @Test func flatIsOwnTimeAndCumulativeCountsRecursionOnce() throws {
        let decoded = try decode(EncodingFixtures.nested)
        #expect(decoded.flat("main", type: "wall") == 2_000_000)
        #expect(decoded.flat("parse", type: "wall") == 4_000_000)
        #expect(decoded.flat("parse", type: "calls") == 4)
        #expect(decoded.cumulative("main", type: "wall") == 11_000_000)
        #expect(decoded.cumulative("work", type: "wall") == 8_000_000)
        #expect(decoded.cumulative("parse", type: "wall") == 4_000_000)
        // a→a→a: each stack counts `a` once, so cum is 0.6 ms, not 0.1 + 2×0.2 + 3×0.3.
        #expect(decoded.cumulative("a", type: "wall") == 600_000)
        #expect(decoded.cumulative("a", type: "calls") == 3)
        #expect(decoded.flat("a", type: "wall") == 600_000)
        #expect(decoded.cumulative("idle", type: "wall") == 0)
    }

    @Test func idsAreDenseOrderedAndOnlyForReferencedFunctions() throws {
        let decoded = try decode(EncodingFixtures.nested)
        #expect(decoded.stringTable.first == "")
        #expect(Set(decoded.stringTable).count == decoded.stringTable.count, "each string once")
        #expect(decoded.mappings.map(\.id) == [1])
        #expect(decoded.functions.map(\.id) == [1, 2, 3, 4])
        #expect(decoded.locations.map(\.id) == [1, 2, 3, 4])
        // `idle` (index 2) is left out; the rest keep the order of `functions`.
        #expect(decoded.functions.map { decoded.string($0.name) } == ["main", "work", "parse", "a"])
        #expect(
            decoded.functions.map { decoded.string($0.systemName) } == [
                "App.main()", "App.work()", "App.parse()", "App.a()",
            ]
        )
        #expect(
            decoded.functions.map { decoded.string($0.filename) } == [
                "App/main.swift", "App/work.swift", "App/parse.swift", "App/a.swift",
            ]
        )
        #expect(decoded.functions.map(\.startLine) == [10, 20, 40, 50])
        for location in decoded.locations {
            #expect(location.mappingID == 1)
            // Issue 13: an address inside the mapping; these fixtures' functions have none of
            // their own, so each sits at the program's entry point.
            #expect(location.address == ExecutableMapping.entry)
            #expect(location.lines.count == 1)
            #expect(location.lines.first?.functionID == location.id)
        }
        #expect(decoded.locations.map { $0.lines[0].line } == [10, 20, 40, 50])
        // Leaf first: main→work→parse is [parse, work, main].
        #expect(decoded.samples[2].locationIDs == [3, 2, 1])
        #expect(decoded.samples[6].locationIDs == [4, 4, 4])
    }

    @Test func mappingDescribesTheMainExecutable() throws {
        let decoded = try decode(EncodingFixtures.nested)
        let mapping = try #require(decoded.mappings.first)
        #expect(decoded.string(mapping.filename) == ExecutableMapping.path)
        #expect(ExecutableMapping.path.hasPrefix("/"))
        #expect(ExecutableMapping.path == (try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")))
        #expect(decoded.string(mapping.buildID) == ExecutableMapping.buildID)
        #expect(ExecutableMapping.buildID.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        #expect(ExecutableMapping.buildID.count % 2 == 0)
        #expect(mapping.hasFunctions && mapping.hasFilenames && mapping.hasLineNumbers)
        // Issue 13: the executable segment, not 0x0/0x0 (go tool pprof's -weblist panicked on it).
        #expect(mapping.memoryLimit > mapping.memoryStart)
        #expect(
            mapping.memoryStart == ExecutableMapping.main.start && mapping.memoryLimit == ExecutableMapping.main.limit
        )
        #expect(mapping.fileOffset == ExecutableMapping.main.offset)
    }

    @Test func timeDurationAndComments() throws {
        let decoded = try decode(EncodingFixtures.nested)
        #expect(decoded.timeNanos == Int64(EncodingFixtures.start))
        #expect(decoded.durationNanos == 12_000_000)
        #expect(decoded.comments == EncodingFixtures.nested.commentLines)
        // One line of figures, the statistics line, then only what is not zero (issue 13).
        #expect(
            decoded.comments.first
                == "fprof profile: 28 events, 2 threads, clock tsc, hook pair 26.1 ns"
                + " (full call paths; calls and own wall time per path)"
        )
        #expect(decoded.comments[1].hasPrefix("swift-pprof: mode=fprof events=28 dropped=3 "))
        #expect(decoded.comments.contains("events dropped: 3 (a thread's ring buffer was full)"))
        #expect(decoded.comments.contains { $0.hasPrefix("stale exits: 2 (") })
        #expect(decoded.comments.contains { $0.hasPrefix("wrong-thread exits: 1 (") })
        #expect(!decoded.comments.contains { $0.hasPrefix("implicitly closed") || $0.hasPrefix("open at thread exit") })
        #expect(decoded.comments.count == 5, "\(decoded.comments)")

        // A zero-length window still has a positive duration (pprof requires it).
        #expect(try decode(EncodingFixtures.eprof).durationNanos == 1)
    }

    @Test func eprofIsFlatPerFunction() throws {
        let decoded = try decode(EncodingFixtures.eprof)
        #expect(decoded.violations() == [])
        #expect(decoded.sampleTypeNames == ["calls/count", "wall/nanoseconds"])
        #expect(decoded.defaultSampleType == "wall")
        #expect(decoded.stacks.map(\.frames) == [["x"], ["y"]])
        #expect(decoded.value(path: ["x"], type: "wall") == 10_000)
        #expect(decoded.value(path: ["y"], type: "wall") == 25_000)
        #expect(decoded.value(path: ["y"], type: "calls") == 3)
        #expect(decoded.comments.first?.hasPrefix("eprof profile: ") == true)
        #expect(decoded.comments.first?.hasSuffix(" (flat per function; calls and own wall time)") == true)
    }

    @Test func cprofHasCallsOnly() throws {
        let decoded = try decode(EncodingFixtures.cprof)
        #expect(decoded.violations() == [])
        #expect(decoded.sampleTypeNames == ["calls/count"])
        #expect(decoded.defaultSampleType == "calls")
        #expect(decoded.periodTypeName == "calls/count")
        #expect(decoded.period == 1)
        #expect(decoded.samples.map(\.values) == [[1], [5], [1]])
        #expect(decoded.value(path: ["main", "work", "work"], type: "calls") == 1)
        #expect(decoded.cumulative("work", type: "calls") == 6)
        #expect(decoded.flat("work", type: "wall") == 0)
        #expect(decoded.comments.first?.contains(", hook pair not measured") == true, "\(decoded.comments)")
    }

    @Test func emptyProfileIsStillValid() throws {
        let profile = Profile(
            mode: .fprof,
            startWallNanoseconds: EncodingFixtures.start,
            durationNanoseconds: 5,
            functions: [],
            nodes: [],
            statistics: Profile.Statistics()
        )
        let decoded = try decode(profile)
        #expect(decoded.samples.isEmpty && decoded.functions.isEmpty && decoded.locations.isEmpty)
        #expect(decoded.mappings.count == 1)
        #expect(decoded.violations() == [])
    }

    @Test func malformedTreesAreEncodedWithoutTrapping() throws {
        // A parent that is not below its child would loop; a function out of range would trap.
        let profile = Profile(
            mode: .fprof,
            startWallNanoseconds: EncodingFixtures.start,
            durationNanoseconds: 5,
            functions: [EncodingFixtures.function("f", line: 1)],
            nodes: [
                .init(parent: 1, function: 0, calls: 1, ownNanoseconds: 1),
                .init(parent: 1, function: 0, calls: 1, ownNanoseconds: 2),
                .init(parent: 0, function: 9, calls: 1, ownNanoseconds: 4),
            ],
            statistics: Profile.Statistics()
        )
        let decoded = try decode(profile)
        #expect(decoded.violations() == [])
        #expect(decoded.stacks.map(\.frames) == [["f"], ["f"], ["f", "(unknown function)"]])
        #expect(profile.folded() == "f 1\nf 2\nf;(unknown function) 4\n")
        #expect(profile.report().contains("* (unknown function)"))
    }

    @Test func decodesStringAndNumericLabels() throws {
        // The encoder has no labels yet; write a sample with labels by hand.
        var writer = ProtobufWriter()
        for string in ["", "calls", "count", "f", "thread", "main", "bytes"] {
            writer.string(PprofTag.profileStringTable, string)
        }
        writer.message(PprofTag.profileSampleType) {
            $0.int64(PprofTag.valueTypeType, 1)
            $0.int64(PprofTag.valueTypeUnit, 2)
        }
        writer.message(PprofTag.profileFunction) {
            $0.uint64(PprofTag.functionID, 1)
            $0.int64(PprofTag.functionName, 3)
        }
        writer.message(PprofTag.profileLocation) {
            $0.uint64(PprofTag.locationID, 1)
            $0.message(PprofTag.locationLine) { $0.uint64(PprofTag.lineFunctionID, 1) }
        }
        writer.message(PprofTag.profileSample) {
            // Unpacked repeated fields are legal too.
            $0.uint64(PprofTag.sampleLocation, 1)
            $0.int64(PprofTag.sampleValue, -7)
            $0.message(PprofTag.sampleLabel) {
                $0.int64(PprofTag.labelKey, 4)
                $0.int64(PprofTag.labelStr, 5)
            }
            $0.message(PprofTag.sampleLabel) {
                $0.int64(PprofTag.labelKey, 6)
                $0.int64(PprofTag.labelNum, 4096)
            }
        }
        writer.uint64(99, 1)  // an unknown field is skipped
        let decoded = try DecodedProfile.decode(writer.bytes)
        let stack = try #require(decoded.stacks.first)
        #expect(stack.frames == ["f"])
        #expect(stack.values == [-7])
        #expect(stack.labels == ["thread": "main", "bytes": "4096"])
        let numeric = decoded.samples[0].labels[1]
        #expect(numeric.key == 6 && numeric.str == 0 && numeric.num == 4096 && numeric.numUnit == 0)
        #expect(decoded.defaultSampleType == "calls", "unset: the last sample type, as pprof")
    }

    @Test func violationsCatchWhatScrapersReject() throws {
        var writer = ProtobufWriter()
        for string in ["x", "cpu-time", "ns"] {
            writer.string(PprofTag.profileStringTable, string)
        }
        writer.message(PprofTag.profileSampleType) {
            $0.int64(PprofTag.valueTypeType, 1)
            $0.int64(PprofTag.valueTypeUnit, 2)
        }
        writer.message(PprofTag.profileFunction) { $0.uint64(PprofTag.functionID, 2) }
        writer.message(PprofTag.profileSample) { $0.packedInt64s(PprofTag.sampleValue, [1, 2]) }
        writer.int64(PprofTag.profileDefaultSampleType, 2)
        writer.packedInt64s(PprofTag.profileComment, [9])
        let violations = try DecodedProfile.decode(writer.bytes).violations()
        #expect(
            violations == [
                "string_table[0] must be the empty string",
                "sample type name 'cpu-time' contains '-' (Pyroscope rejects it)",
                "no period_type",
                "duration_nanos is not positive",
                "time_nanos is not positive",
                "default_sample_type names no sample type",
                "comment: string index 9 out of range (table has 3)",
                "function #0 has id 2: ids must be 1,2,3,... in order (Parca)",
                "function 2 has no name",
                "sample 0 has 2 values for 1 sample types",
                "sample 0 has no location ids",
            ]
        )
    }
}

@Suite struct DecoderRobustnessTests {
    private func expectThrows(_ bytes: [UInt8], _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try DecodedProfile.decode(bytes)
            Issue.record("decoded \(bytes) without an error", sourceLocation: sourceLocation)
        } catch let error as PprofDecodingError {
            #expect(error.reason.contains(reason), "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.hasPrefix("not a pprof profile: "), sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func malformedWireDataThrows() {
        expectThrows([0x48, 0x80], "truncated varint")  // time_nanos, varint cut short
        expectThrows([0x48] + [UInt8](repeating: 0xFF, count: 9) + [0x02], "overflows 64 bits")
        expectThrows([0x32, 0x05, 0x61], "claims 5 bytes; 1 remain")  // a string past the end
        expectThrows([0x0B], "unsupported wire type 3")  // a group
        expectThrows([0x0F], "unsupported wire type 7")
        expectThrows([0x00, 0x01], "invalid field number 0")
        expectThrows([0x08, 0x01], "wrong wire type")  // sample_type must be a message
        expectThrows([0x49, 0x01, 0x02], "truncated 64-bit field")
        expectThrows([0x4D, 0x01], "truncated 32-bit field")
        expectThrows([0x12, 0x02, 0x08, 0x80], "truncated varint")  // inside a sample
        expectThrows([0x12, 0x03, 0x0A, 0x01, 0x80], "truncated varint")  // inside a packed array
        expectThrows([0x1F, 0x8B, 0x08, 0x00], "gzip")
        expectThrows([0x1F, 0x8B], "gzip")
    }

    @Test func everyTruncationOfARealProfileThrowsOrDecodes() throws {
        let message = EncodingFixtures.nested.pprofMessage()
        var failures = 0
        for length in 0..<message.count {
            do {
                _ = try DecodedProfile.decode(Array(message.prefix(length)))
            } catch is PprofDecodingError {
                failures += 1
            }
        }
        // A cut between two top-level fields is a valid shorter message; most cuts are not.
        #expect(failures > message.count / 2)
        let gzipped = EncodingFixtures.nested.pprof()
        for length in 2..<gzipped.count {
            #expect(throws: PprofDecodingError.self) { try DecodedProfile.decode(Array(gzipped.prefix(length))) }
        }
    }

    @Test func randomCorruptionNeverTraps() {
        var generator = SplitMix64(seed: 42)
        let message = EncodingFixtures.nested.pprofMessage()
        let gzipped = EncodingFixtures.nested.pprof()
        for round in 0..<3000 {
            var bytes = round % 4 == 0 ? gzipped : message
            for _ in 0...Int(generator.next() % 4) {
                let position = Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 3 {
                case 0: bytes[position] = UInt8(truncatingIfNeeded: generator.next())
                case 1: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
                default: bytes.remove(at: position)
                }
                if bytes.isEmpty { break }
            }
            // Either outcome is fine; reaching the next round is the test.
            _ = try? DecodedProfile.decode(bytes)
        }
        for _ in 0..<1000 {
            let bytes = (0..<Int(generator.next() % 64)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            _ = try? DecodedProfile.decode(bytes)
        }
    }
}
