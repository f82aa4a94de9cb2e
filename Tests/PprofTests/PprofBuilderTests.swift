import Pprof
import PprofTestKit
import Testing

@Suite struct PprofBuilderTests {
    private static let library = Profile.Mapping(path: "/usr/lib/libapp.so", buildID: "abcd")

    /// Go's heap profile, as the next source will write it: four sample types, a period type that
    /// is none of them, no default sample type, and a numeric `bytes` label.
    @Test func memoryShapedProfileFollowsTheConsumerRules() throws {
        var builder = PprofBuilder(
            sampleTypes: [
                .init(type: "alloc_objects", unit: "count"), .init(type: "alloc_space", unit: "bytes"),
                .init(type: "inuse_objects", unit: "count"), .init(type: "inuse_space", unit: "bytes"),
            ],
            periodType: .init(type: "space", unit: "bytes"),
            period: 524_288,
            timeNanos: 1_700_000_000_000_000_000,
            durationNanos: 5
        )
        let malloc = builder.location(Profile.Function(name: "alloc", file: "App/Alloc.swift", line: 7))
        let main = builder.location(Profile.Function(name: "main", file: "App/main.swift", line: 1))
        let size = builder.label("bytes", number: 64, unit: "bytes")
        builder.addSample(locations: [malloc, main], values: [2, 128, 1, 64], labels: [size])
        builder.addSample(locations: [main], values: [1, 32, 0, 0])
        let decoded = try DecodedProfile.decode(builder.finish())

        #expect(decoded.violations() == [])
        #expect(
            decoded.sampleTypeNames == [
                "alloc_objects/count", "alloc_space/bytes", "inuse_objects/count", "inuse_space/bytes",
            ]
        )
        #expect(decoded.periodTypeName == "space/bytes")
        #expect(decoded.period == 524_288)
        #expect(decoded.defaultSampleTypeIndex == 0, "unset, as Go's heap profile")
        #expect(decoded.defaultSampleType == "inuse_space")
        #expect(decoded.stacks.map(\.frames) == [["main", "alloc"], ["main"]])
        #expect(decoded.samples.map(\.values) == [[2, 128, 1, 64], [1, 32, 0, 0]])
        let label = try #require(decoded.samples[0].labels.first)
        #expect(decoded.string(label.key) == "bytes" && label.str == 0 && label.num == 64)
        #expect(decoded.string(label.numUnit) == "bytes")
        #expect(decoded.samples[1].labels.isEmpty)
    }

    @Test func equalFunctionsShareOneLocationAndIdsFollowFirstUse() throws {
        var builder = PprofBuilder(
            sampleTypes: [.init(type: "calls", unit: "count")],
            defaultSampleType: "calls",
            timeNanos: 1,
            durationNanos: 1
        )
        let b = Profile.Function(name: "b", file: "B.swift", line: 2, mapping: Self.library)
        let a = Profile.Function(name: "a", file: "A.swift", line: 1)
        #expect(builder.location(b) == 1)
        #expect(builder.location(a) == 2)
        #expect(builder.location(b) == 1, "deduplicated")
        #expect(builder.location(Profile.Function(name: "b", file: "B.swift", line: 3)) == 3, "another call site")
        #expect(builder.string("") == 0)
        #expect(builder.string("calls") == builder.string("calls"))
        builder.addSample(locations: [1, 2], values: [1], labels: [builder.label("k", "v"), builder.label("k", "v")])
        let decoded = try DecodedProfile.decode(builder.finish())

        #expect(decoded.violations() == [])
        #expect(decoded.stringTable.first == "")
        #expect(Set(decoded.stringTable).count == decoded.stringTable.count, "each string once")
        #expect(decoded.functions.map { decoded.string($0.name) } == ["b", "a", "b"])
        #expect(decoded.functions.map(\.id) == [1, 2, 3])
        #expect(decoded.locations.map(\.id) == [1, 2, 3])
        // The main program is mapping 1 even when the first function is in a shared object.
        #expect(decoded.mappings.map { decoded.string($0.filename) } == [ExecutableMapping.path, Self.library.path])
        #expect(decoded.locations.map(\.mappingID) == [2, 1, 1])
        #expect(decoded.defaultSampleType == "calls")
        #expect(decoded.samples[0].labels.count == 2)
    }

    @Test func nodeValuesAreTheMeasurementsAndTheAccessorsReadThem() {
        var node = Profile.Node(parent: -1, function: 0, calls: 3, ownNanoseconds: 40)
        #expect(node.values == Measurements(calls: 3, wall: 40))
        node.ownNanoseconds += 2
        node.calls = 5
        #expect(node.values == Measurements(calls: 5, wall: 42))
        #expect(Profile.SampleType.of(.fprof).map { $0.value(node.values) } == [5, 42])
        #expect(Profile.SampleType.of(.cprof).map { "\($0.type)/\($0.unit)" } == ["calls/count"])
    }

    @Test func aProfileKeepsOnlyTheFunctionsItsNodesUse() {
        let registry = (0..<6).map { Profile.Function(name: "f\($0)", file: "F.swift", line: $0) }
        let profile = Profile(
            mode: .fprof,
            startWallNanoseconds: 1,
            durationNanoseconds: 1,
            usedFunctionsOf: registry,
            nodes: [
                .init(parent: -1, function: 4, calls: 1, ownNanoseconds: 1),
                .init(parent: 0, function: 1, calls: 1, ownNanoseconds: 1),
                .init(parent: 1, function: 4, calls: 1, ownNanoseconds: 1),
                .init(parent: 0, function: 17, calls: 1, ownNanoseconds: 1),
            ],
            statistics: Profile.Statistics()
        )
        #expect(profile.functions.map(\.name) == ["f4", "f1"], "in order of first use")
        #expect(profile.nodes.map(\.function) == [0, 1, 0, 17], "out of range stays out of range")
        #expect(profile.folded() == "f4 1\nf4;f1 1\nf4;f1;f4 1\nf4;(unknown function) 1\n")
    }
}
