import Foundation
import PprofTestKit
import PprofTestSupport
import Testing

@testable import Pprof

/// A CPU sample can interrupt code outside any function symbol: a PLT stub, on the way into
/// another object. Its location must still be code Go 1.19's pprof can disassemble: its
/// `-weblist` slices `.text` from the address's function and panics on an address before it (CI
/// saw `slice bounds out of range` on the demo's profile, a sample in its `.plt`). Such a frame
/// is named `(PLT stub in OBJECT)` and placed at its object's `.text`; every other address keeps
/// its own.
@Suite struct CodePlacementTests {
    /// The main program's and libc's PLT stubs, as run-time addresses, with each object's
    /// `.text` (link-time), read here from the files' section headers.
    static func stubs() throws -> [(address: UInt, text: Range<UInt64>, file: String)] {
        var result: [(UInt, Range<UInt64>, String)] = []
        // The main program (the test bundle): its bias, from a function of its own.
        let code: @convention(c) () -> Void = {}
        let main = try #require(CallSiteNames.object(at: unsafeBitCast(code, to: UInt.self)))
        #expect(main.isMain)
        let mainBias = main.bias
        let mainSections = try ELFSections(path: "/proc/self/exe")
        let mainPLT = try #require(mainSections[".plt"], "the test bundle has no .plt")
        result.append((mainBias + UInt(mainPLT.lowerBound) + 16, try #require(mainSections[".text"]), "main"))
        // libc: where its `writev` is, its object and bias.
        let libc = try #require(CallSiteNames.object(at: UInt(bitPattern: try Self.libcWritev())))
        let libcSections = try ELFSections(path: libc.mapping.path)
        let libcPLT = try #require(libcSections[".plt"], "\(libc.mapping.path) has no .plt")
        let libcText = try #require(libcSections[".text"])
        result.append((libc.bias + UInt(libcPLT.lowerBound) + 16, libcText, libc.mapping.path))
        return result
    }

    @Test func aSampleInAPLTStubIsNamedSoAndPlacedInText() throws {
        for stub in try Self.stubs() {
            // As the sampler names it (from the interrupted address itself), and as a frame.
            let interrupted = ProbeRegistry().intern(interruptedAt: stub.address)
            #expect(interrupted.system.hasPrefix("(PLT stub in "), "\(stub.file): \(interrupted.system)")
            let named = NativeFrameName.function(returnAddress: stub.address &+ 1)
            #expect(named.name.hasPrefix("(PLT stub in "), "\(stub.file): \(named.name)")
            #expect(stub.text.contains(named.address), "\(stub.file): \(named.address) outside .text \(stub.text)")
        }
    }

    /// libc's own `writev`, not a sanitizer's interceptor of that name in the main program.
    static func libcWritev() throws -> UnsafeMutableRawPointer {
        let libc = try #require(dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD), "libc.so.6 is not loaded")
        return try #require(dlsym(libc, "writev"))
    }

    @Test func aSampleInAFunctionKeepsItsAddress() throws {
        let writev = try Self.libcWritev()
        let libc = try #require(CallSiteNames.object(at: UInt(bitPattern: writev)))
        let named = NativeFrameName.function(returnAddress: UInt(bitPattern: writev) + 5)
        #expect(named.name == "writev" || named.name == "__writev", "\(named.name)")
        #expect(named.address == UInt64(UInt(bitPattern: writev) + 4 - libc.bias))
    }

    /// The real go tool pprof reads a profile with frames in both stubs: `-weblist=.` ends
    /// without a panic. Under CI=true a missing Go fails.
    @Test(.enabled(if: GoTool.path != nil || GoTool.requiredByCI, "go is not on PATH"))
    func weblistReadsAProfileWithStubFrames() throws {
        guard let go = GoTool.path else {
            Issue.record("CI=true but go is not on PATH")
            return
        }
        let stubs = try Self.stubs()
        var functions = [Profile.Function(name: "scope", file: "", line: 0)]
        var nodes = [Profile.Node(parent: -1, function: 0, calls: 1, ownNanoseconds: 30_000_000)]
        for stub in stubs {
            functions.append(NativeFrameName.function(returnAddress: stub.address &+ 1))
            nodes.append(
                Profile.Node(
                    parent: 0,
                    function: Int32(functions.count - 1),
                    values: Measurements(cpuSamples: 1, cpuNanoseconds: 10_000_000)
                )
            )
        }
        var statistics = Profile.Statistics()
        statistics.cpuHz = 100
        statistics.cpuSamples = 2
        let profile = Profile(
            mode: .fprof,
            startWallNanoseconds: 1,
            durationNanoseconds: 30_000_000,
            functions: functions,
            nodes: nodes,
            statistics: statistics
        )
        let bytes = try profile.pprof()
        let decoded = try DecodedProfile.decode(bytes)
        #expect(decoded.violations() == [])
        let dir = try ExitDumpTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.path + "/stubs.pb.gz"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        for index in ["wall", "cpu"] {
            let weblist = try GoTool.pprof(
                go,
                ["-weblist=.", "-sample_index=\(index)", "-output", "/dev/null", path],
                scratch: dir.path
            )
            #expect(weblist.status == 0 && !weblist.output.contains("panic"), "\(weblist.output)")
        }
    }
}

/// The executable sections of an ELF file by name, at their link-time addresses: read without
/// the code under test.
struct ELFSections {
    private var sections: [String: Range<UInt64>] = [:]

    init(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        func u16(_ o: Int) -> Int { Int(data[o]) | Int(data[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        func u64(_ o: Int) -> UInt64 { UInt64(u32(o)) | UInt64(u32(o + 4)) << 32 }
        let shoff = Int(u64(0x28))
        let shentsize = u16(0x3A)
        let shnum = u16(0x3C)
        let names = Int(u64(shoff + u16(0x3E) * shentsize + 24))
        for index in 0..<shnum {
            let header = shoff + index * shentsize
            guard u64(header + 8) & 0x4 != 0 else { continue }  // SHF_EXECINSTR
            var end = names + u32(header)
            while data[end] != 0 { end += 1 }
            let name = String(decoding: data[(names + u32(header))..<end], as: UTF8.self)
            let start = u64(header + 16)
            sections[name] = start..<(start + u64(header + 32))
        }
    }

    subscript(_ name: String) -> Range<UInt64>? { sections[name] }
}
