import Foundation
import PprofTestKit
import PprofTestSupport
import Testing

@testable import Pprof

/// Issue 13: go tool pprof finds the code of a recorded profile. Each mapping has its object's
/// executable segment, each location an address inside it (the call site's, in the function
/// that holds the hook), and each function the full path of its file.
@Suite(.serialized, .recorderExclusive)
struct SourceMappingTests {
    static func recorded() throws -> DecodedProfile {
        let window = Profiler.start(mode: .fprof)
        for _ in 0..<3 {
            let t = Trace.enter("source.outer")
            Trace.scope("source.inner") {}
            Trace.exit(t)
        }
        let profile = window.stop()
        return try DecodedProfile.decode(profile.pprof())
    }

    @Test func mappingRangesHoldEveryLocationsAddress() throws {
        let decoded = try Self.recorded()
        #expect(decoded.violations() == [])
        let main = try #require(decoded.mappings.first)
        #expect(decoded.string(main.filename) == ExecutableMapping.path)
        #expect(main.memoryLimit > main.memoryStart, "the executable segment, not 0x0/0x0")
        #expect(main.memoryStart == ExecutableMapping.main.start && main.fileOffset == ExecutableMapping.main.offset)
        for location in decoded.locations {
            let mapping = try #require(decoded.mappings.first { $0.id == location.mappingID })
            #expect(
                (mapping.memoryStart..<mapping.memoryLimit).contains(location.address),
                "location \(location.id) at \(location.address) outside its mapping"
            )
        }
        // The call sites' addresses lie in this test's code, so the two scopes' differ.
        let byName = Dictionary(
            decoded.functions.map { (decoded.string($0.name), $0.id) },
            uniquingKeysWith: { a, _ in a }
        )
        let outer = try #require(decoded.locations.first { $0.id == byName["source.outer"] })
        let inner = try #require(decoded.locations.first { $0.id == byName["source.inner"] })
        #expect(outer.address != main.memoryStart && inner.address != main.memoryStart)
        #expect(outer.address != inner.address)
        // The symbol at the call site's address is this test's function.
        let bias = try #require(CallSiteNames.object(at: UInt(bitPattern: #dsohandle))).bias
        let (symbol, _) = try #require(CallSiteNames.symbol(at: UInt(outer.address) &+ bias &- 1))
        #expect(CallSiteNames.demangle(symbol)?.contains("recorded") == true, "\(symbol)")
    }

    @Test func functionsCarryTheFullPathAndReportsTheFileID() throws {
        let decoded = try Self.recorded()
        let outer = try #require(decoded.functions.first { decoded.string($0.name) == "source.outer" })
        #expect(decoded.string(outer.filename) == #filePath)
        let profileFunctions = Recorder.shared.probes.functions().filter { $0.name == "source.outer" }
        #expect(profileFunctions.first?.file == #fileID)
    }
}

/// The real `go tool pprof` on the fixture's PPROF_OUTPUT profile: `-weblist` no longer panics,
/// `-disasm` annotates the call sites' instructions, `-list` shows their code from the file's
/// full path. Under CI=true a missing Go fails.
@Suite struct GoToolSourceTests {
    @Test(.enabled(if: GoTool.path != nil || GoTool.requiredByCI, "go is not on PATH"))
    func weblistDisasmAndListReadTheFixturesProfile() throws {
        guard let go = GoTool.path else {
            Issue.record("CI=true but go is not on PATH")
            return
        }
        let dir = try ExitDumpTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.path + "/fixture.pb.gz"
        let run = try ExitDumpTests.run("workload", environment: ["PPROF_OUTPUT": path])
        #expect(run.reason == .exit && run.status == 0, "\(run.stderr)")

        // go tool pprof 1.19 panicked here on a 0x0/0x0 mapping whose file exists.
        let weblist = try GoTool.pprof(go, ["-weblist=.", "-output", "/dev/null", path], scratch: dir.path)
        #expect(weblist.status == 0 && !weblist.output.contains("panic"), "\(weblist.output)")

        // -disasm matches the binary's symbols: each scope's samples sit on an instruction of the
        // function that holds it (the workload's thread closure).
        let disasm = try GoTool.pprof(go, ["-disasm=.", "-sample_index=calls", path], scratch: dir.path)
        #expect(disasm.status == 0, "\(disasm.output)")
        #expect(disasm.output.contains("ROUTINE ======================== "), "\(disasm.output)")
        let annotated = disasm.output.split(separator: "\n").filter {
            $0.contains(";fixture.outer main.swift:") || $0.contains(";fixture.inner main.swift:")
        }
        #expect(annotated.count == 2, "\(disasm.output)")
        // The calls on them: 160 outer, 480 inner.
        #expect(annotated.contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix("160 ") })
        #expect(annotated.contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix("480 ") })

        // -list reads the call sites' lines from the file's full path.
        let list = try GoTool.pprof(go, ["-list=fixture.outer", "-sample_index=calls", path], scratch: dir.path)
        #expect(list.status == 0, "\(list.output)")
        #expect(list.output.contains("ROUTINE ======================== fixture.outer in /"), "\(list.output)")
        #expect(list.output.contains("Tests/PprofFixture/main.swift"), "\(list.output)")
        #expect(list.output.contains(#"let t = Trace.enter("fixture.outer")"#), "\(list.output)")
    }
}

/// A frame without a call site of its own (a pseudo-frame, a span, a thread's frame) sits at the
/// program's entry point: code, inside the main mapping, that `-weblist` can disassemble.
@Suite struct PseudoFrameAddressTests {
    @Test func aFrameWithoutACallSiteSitsAtTheEntryPoint() throws {
        let profile = Profile(
            mode: .fprof,
            startWallNanoseconds: 1,
            durationNanoseconds: 10,
            functions: [Profile.Function(name: "(events dropped)", file: "", line: 0)],
            nodes: [.init(parent: -1, function: 0, calls: 1, ownNanoseconds: 1)],
            statistics: Profile.Statistics()
        )
        let decoded = try DecodedProfile.decode(profile.pprof())
        let main = try #require(decoded.mappings.first)
        let location = try #require(decoded.locations.first)
        #expect(ExecutableMapping.entry != 0)
        #expect(location.address == ExecutableMapping.entry)
        #expect((main.memoryStart..<main.memoryLimit).contains(location.address))
        let bias = try #require(CallSiteNames.object(at: UInt(bitPattern: #dsohandle))).bias
        let (symbol, _) = try #require(CallSiteNames.symbol(at: UInt(location.address) &+ bias))
        #expect(symbol == "_start", "\(symbol)")
    }
}
