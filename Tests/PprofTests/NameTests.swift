import Foundation
import PprofSecondModule
import PprofTestKit
import PprofTestSupport
import Testing

@testable import Pprof

/// How a demangled symbol is shortened to the way Swift writes a function, and when it is not
/// trusted. Pure text: the same in every build.
@Suite struct QualifiedNameTests {
    private func name(_ demangled: String, _ function: String) -> String? {
        CallSiteNames.qualifiedName(demangled: demangled, function: function)
    }

    @Test func methodsDropTheModuleAndKeepTheLabels() {
        #expect(name("App.JSONParser.parse(Swift.String) throws -> App.Value", "parse(_:)") == "JSONParser.parse(_:)")
        #expect(name("App.Outer.Inner.run(count: Swift.Int) -> ()", "run(count:)") == "Outer.Inner.run(count:)")
        #expect(name("static App.Cache.shared.getter : App.Cache", "shared") == "Cache.shared")
    }

    @Test func genericFunctionsAndTypesLoseTheirParameters() {
        #expect(name("App.work<A where A: Swift.Equatable>(A) -> Swift.Bool", "work(_:)") == "work(_:)")
        #expect(name("App.Box<A>.map<A1>((A) -> A1) -> A1", "map(_:)") == "Box.map(_:)")
        #expect(
            name("generic specialization <Swift.Int> of App.Box<A>.map<A1>((A) -> A1) -> A1", "map(_:)")
                == "Box.map(_:)"
        )
    }

    @Test func closuresSayWhereTheyAre() {
        #expect(
            name("closure #1 (Swift.Int) -> Swift.Int in App.Store.load(Swift.Int) -> Swift.Int", "load(_:)")
                == "closure #1 in Store.load(_:)"
        )
        #expect(
            name("closure #2 () -> () in closure #1 () -> () in App.main() -> ()", "main()")
                == "closure #2 in closure #1 in main()"
        )
    }

    @Test func initialisersAndPrivateTypes() {
        #expect(name("App.Index.init(bytes: [Swift.UInt8]) -> App.Index", "init(bytes:)") == "Index.init(bytes:)")
        #expect(name("App.Conn.__allocating_init(fd: Swift.Int32) -> App.Conn", "init(fd:)") == "Conn.init(fd:)")
        #expect(name("App.(Helper in _0A1B2C3D).step() -> ()", "step()") == "Helper.step()")
    }

    @Test func aSymbolThatDoesNotNameTheFunctionIsNotTrusted() {
        // The hook was inlined, with `parse(_:)`, into its caller `handle()`.
        #expect(name("App.Server.handle() -> ()", "parse(_:)") == nil)
        #expect(name("App.Server.parseAll() -> ()", "parse(_:)") == nil)
        #expect(name("App.Server.handle() -> ()", "") == nil)
    }

    @Test func theDemanglerIsTheRuntimes() {
        #expect(CallSiteNames.demangle("$sSi") == "Swift.Int")
        #expect(CallSiteNames.demangle("main") == nil)
    }

    @Test func symbolsComeFromTheSymtab() throws {
        // A function of this binary that is not exported (not in .dynsym): found by address.
        let address = unsafeBitCast(qualifiedNamesProbeTarget as @convention(c) () -> Void, to: UInt.self)
        let (symbol, mapping) = try #require(CallSiteNames.symbol(at: address))
        #expect(mapping == nil, "the test binary is the main program")
        #expect(CallSiteNames.demangle(symbol)?.contains("qualifiedNamesProbeTarget") == true, "\(symbol)")
        // A libc function: another object, with its path and GNU build id.
        let getpidAddress = UInt(bitPattern: dlsym(nil, "getpid"))
        let libc = try #require(CallSiteNames.object(at: getpidAddress))
        #expect(!libc.isMain)
        #expect(libc.mapping.path.contains("libc"), "\(libc.mapping.path)")
        #expect(libc.mapping.buildID.count >= 16 && libc.mapping.buildID.allSatisfy(\.isHexDigit))
        let main = try #require(CallSiteNames.object(at: address))
        #expect(main.isMain && main.mapping.buildID == ExecutableMapping.buildID)
    }
}

private let qualifiedNamesProbeTarget: @convention(c) () -> Void = {}

/// Unnamed scopes recorded for real: the frames are named after their functions, qualified.
@Suite(.serialized, .recorderExclusive)
struct NameTests {
    private func record(_ body: () -> Void) -> Profile {
        let window = Profiler.start()
        body()
        return window.stop()
    }

    private func function(named name: String, in profile: Profile) -> Profile.Function? {
        profile.functions.first { $0.name == name }
    }

    @Test func unnamedScopesShowTheQualifiedFunction() throws {
        let profile = record {
            let parser = SecondParser(bytes: [1, 2, 3])
            _ = parser.parse("abc")
            _ = SecondBox(41).map { $0 + 1 }
            _ = SecondHandlers().handler(1)
        }
        let names = Set(profile.functions.map(\.name))
        let method = try #require(function(named: "SecondParser.parse(_:)", in: profile), "\(names)")
        #expect(method.systemName.hasPrefix("PprofSecondModule.SecondParser.parse("))
        #expect(method.file == "PprofSecondModule/SecondModule.swift")
        #expect(method.mapping == nil)
        #expect(function(named: "SecondParser.init(bytes:)", in: profile) != nil, "\(names)")
        #expect(function(named: "SecondBox.map(_:)", in: profile) != nil, "\(names)")
        #expect(function(named: "closure #1 in SecondHandlers.init()", in: profile) != nil, "\(names)")
        let paths = PathTable(profile)
        #expect(paths.calls["SecondParser.parse(_:)"] == 1)
    }

    @Test func unnamedScopesInThisModule() throws {
        let profile = record {
            _ = LocalThing(3).sum(4)
        }
        let names = Set(profile.functions.map(\.name))
        // In a debug build the hook is called from `sum(_:)`; in a release build it is inlined
        // there (and `sum` is not inlined into this closure): either way its symbol names it.
        #expect(names.contains("LocalThing.sum(_:)"), "\(names)")
    }

    @Test func aNamedScopeKeepsItsNameAndGetsTheFunctionAsSystemName() throws {
        let profile = record { _ = SecondParser(bytes: []).parseNamed("x") }
        let named = try #require(function(named: "second.named", in: profile))
        #expect(named.systemName.hasPrefix("PprofSecondModule.SecondParser.parseNamed("), "\(named.systemName)")
    }

    @Test func fileAndLineStayExact() throws {
        let line = #line + 1
        let profile = record { _ = Trace.scope { 1 } }
        let scope = try #require(profile.functions.first { $0.file == #fileID && $0.line == line })
        // A closure of this test: the hook's name is the closure's or, where the symbol does not
        // agree, #function's; never a name with the line's top bit.
        #expect(scope.name.hasSuffix("fileAndLineStayExact()"), "\(scope.name)")
    }

    @Test func pprofCarriesNamesAndGoToolReadsThem() throws {
        let profile = record {
            _ = SecondParser(bytes: [1]).parse("abc")
            _ = SecondParser(bytes: []).parseNamed("x")
        }
        let decoded = try DecodedProfile.decode(profile.pprof())
        #expect(decoded.violations() == [])
        let names = decoded.functions.map { decoded.string($0.name) }
        #expect(names.contains("SecondParser.parse(_:)"), "\(names)")
        #expect(decoded.mappings.count == 1)
        #expect(decoded.mappings.first?.hasFunctions == true)
    }
}

/// A scope in a shared object gets that object's Mapping; the main program keeps id 1.
@Suite struct MappingTests {
    @Test func eachObjectHoldingACallSiteHasAMapping() throws {
        let lib = Profile.Mapping(
            path: "/usr/lib/x86_64-linux-gnu/libfake.so",
            buildID: "00112233445566778899aabbccddeeff00112233"
        )
        let profile = Profile(
            mode: .fprof,
            startWallNanoseconds: 1,
            durationNanoseconds: 10,
            functions: [
                Profile.Function(name: "Main.run()", file: "Main/run.swift", line: 1),
                Profile.Function(
                    name: "Lib.step()",
                    systemName: "Lib.Lib.step() -> ()",
                    file: "Lib/step.swift",
                    line: 2,
                    mapping: lib
                ),
                Profile.Function(name: "Main.end()", file: "Main/end.swift", line: 3),
                Profile.Function(name: "Lib.other()", file: "Lib/other.swift", line: 4, mapping: lib),
            ],
            nodes: [
                .init(parent: -1, function: 0, calls: 1, ownNanoseconds: 1),
                .init(parent: 0, function: 1, calls: 1, ownNanoseconds: 1),
                .init(parent: 0, function: 2, calls: 1, ownNanoseconds: 1),
                .init(parent: 1, function: 3, calls: 1, ownNanoseconds: 1),
            ],
            statistics: Profile.Statistics()
        )
        let decoded = try DecodedProfile.decode(profile.pprof())
        #expect(decoded.violations() == [])
        #expect(decoded.mappings.map(\.id) == [1, 2])
        #expect(decoded.mappings.map { decoded.string($0.filename) } == [ExecutableMapping.path, lib.path])
        #expect(decoded.mappings.map { decoded.string($0.buildID) } == [ExecutableMapping.buildID, lib.buildID])
        #expect(decoded.mappings.allSatisfy { $0.hasFunctions })
        #expect(decoded.locations.map(\.mappingID) == [1, 2, 1, 2])
        // Each location's address lies in its mapping (issue 13: a 0x0/0x0 mapping with a real
        // file made go tool pprof's -weblist panic); the fixture's library has no segment, so
        // its locations stay at its start, 0.
        let main = try #require(decoded.mappings.first)
        #expect(main.memoryLimit > main.memoryStart)
        for location in decoded.locations {
            let mapping = try #require(decoded.mappings.first { $0.id == location.mappingID })
            #expect(
                mapping.memoryLimit == 0
                    ? location.address == 0
                    : (mapping.memoryStart..<mapping.memoryLimit).contains(location.address)
            )
        }
        #expect(decoded.functions.map { decoded.string($0.systemName) }[1] == "Lib.Lib.step() -> ()")
    }
}

/// `go tool pprof -top` shows the qualified names of a recorded profile.
@Suite(.serialized, .recorderExclusive)
struct GoToolNameTests {
    @Test(.enabled(if: GoTool.path != nil || GoTool.requiredByCI, "go is not on PATH"))
    func goToolShowsQualifiedNames() throws {
        guard let go = GoTool.path else {
            Issue.record("CI=true but go is not on PATH")
            return
        }
        let window = Profiler.start()
        _ = SecondParser(bytes: [1, 2]).parse("abc")
        _ = SecondBox("x").map { $0.count }
        _ = SecondHandlers().handler(2)
        let profile = window.stop()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pprof-names-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("names.pb.gz").path
        try profile.write(to: path)
        let (status, text) = try GoTool.pprof(go, ["-top", "-sample_index=calls", path], scratch: directory.path)
        #expect(status == 0, "\(text)")
        for name in [
            "SecondParser.init(bytes:)", "SecondParser.parse(_:)", "SecondBox.map(_:)",
            "closure #1 in SecondHandlers.init()",
        ] {
            #expect(text.contains("  \(name)\n"), "go tool pprof -top does not show \(name): \(text)")
        }
    }
}

struct LocalThing {
    var base: Int
    init(_ base: Int) { self.base = base }

    @inline(never)
    func sum(_ other: Int) -> Int {
        Trace.scope { base + other }
    }
}

/// An unnamed async scope: named after its async function.
@Suite(.serialized, .recorderExclusive)
struct AsyncNameTests {
    @Test func unnamedAsyncScopeShowsTheQualifiedFunction() async throws {
        let window = Profiler.start()
        _ = await AsyncThing().work()
        let profile = window.stop()
        let names = Set(PathTable(profile).calls.keys.filter { !$0.contains(";") })
        // An async call is a tail call: where the scope is not inlined into `work()` (a debug
        // build), `work()`'s frame is not on the thread's stack and `#function` names the scope.
        #expect(names.contains("AsyncThing.work()") || names.contains("work()"), "\(names)")
        #expect(names.count == 1, "\(names)")
    }
}

struct AsyncThing {
    @inline(never)
    func work() async -> Int {
        await Trace.scope {
            await Task.yield()
            return 1
        }
    }
}
