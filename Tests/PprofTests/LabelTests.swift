import Foundation
import PprofTestKit
import PprofTestSupport
import Testing

@testable import Pprof

/// Labels: on every sample recorded inside `withLabels`, merged when nested, in sync and async
/// code, and filterable by the real `go tool pprof -tagfocus`.
@Suite(.serialized, .recorderExclusive)
struct LabelTests {
    /// Calls per (stack, labels) of a profile, read back from its own pprof encoding.
    private static func decodedCalls(_ profile: Profile) throws -> [String: Int64] {
        let decoded = try DecodedProfile.decode(Gzip.decompress(profile.pprof()))
        var calls: [String: Int64] = [:]
        for stack in decoded.stacks where stack.values[0] != 0 {
            let labels = stack.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            calls[stack.frames.joined(separator: ";") + " {" + labels + "}", default: 0] += stack.values[0]
        }
        return calls
    }

    @Test func syncLabelsNestAndMerge() throws {
        let window = Profiler.start()
        for i in 0..<30 {
            Trace.scope("lab.request") {
                Trace.withLabels(["route": i % 3 == 0 ? "/users" : "/search"]) {
                    Trace.scope("lab.handle") {
                        Trace.withLabels(["db": "primary", "route": "/users/inner"]) {
                            Trace.scope("lab.query") {}
                        }
                    }
                }
            }
        }
        let calls = try Self.decodedCalls(window.stop())
        #expect(calls["lab.request {}"] == 30)
        #expect(calls["lab.request;lab.handle {route=/users}"] == 10)
        #expect(calls["lab.request;lab.handle {route=/search}"] == 20)
        // The inner set adds db and overrides route.
        #expect(calls["lab.request;lab.handle;lab.query {db=primary,route=/users/inner}"] == 30)
        #expect(calls.keys.allSatisfy { !$0.contains("(labels") }, "\(calls)")
    }

    @Test func asyncLabelsFollowTheTaskAndItsChildren() async throws {
        let window = Profiler.start()
        for route in ["/a", "/b", "/b"] {
            await Trace.withLabels(["route": route]) {
                await Trace.scope("alab.handle") {
                    await Task.yield()
                    async let child: Void = Trace.scope("alab.child") { Trace.scope("alab.sync") {} }
                    await child
                    Trace.scope("alab.sync") {}
                }
            }
        }
        let calls = try Self.decodedCalls(window.stop())
        #expect(calls["alab.handle {route=/a}"] == 1)
        #expect(calls["alab.handle {route=/b}"] == 2)
        #expect(calls["alab.handle;alab.child {route=/b}"] == 2)
        #expect(calls["alab.handle;alab.child;alab.sync {route=/b}"] == 2)
        #expect(calls["alab.handle;alab.sync {route=/a}"] == 1)
    }

    @Test func labelInterningIsStable() {
        let sets = LabelSets(probes: ProbeRegistry())
        let a = sets.probe(for: ["k": "v", "x": "y"])
        let b = sets.probe(for: ["x": "y", "k": "v"])
        let c = sets.probe(for: ["k": "w", "x": "y"])
        #expect(a == b)
        #expect(a != c)
        #expect(sets.labels(of: a) == ["k": "v", "x": "y"])
    }

    @Test(.enabled(if: GoTool.path != nil || GoTool.requiredByCI, "go is not on PATH"))
    func goToolPprofTagfocusSelectsByLabel() throws {
        guard let go = GoTool.path else {
            Issue.record("CI=true but go is not on PATH: the -tagfocus check cannot run")
            return
        }
        let window = Profiler.start(mode: .cprof)
        for i in 0..<40 {
            Trace.withLabels(["route": i % 4 == 0 ? "/users" : "/search"]) {
                Trace.scope(i % 4 == 0 ? "tag.users" : "tag.search") {}
            }
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pprof-tag-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("labels.pb.gz").path
        try window.stop().write(to: file)

        let (status, text) = try GoTool.pprof(go, ["-top", "-tagfocus=route=/users", file], scratch: directory.path)
        #expect(status == 0, "\(text)")
        #expect(text.contains("tag.users"), "\(text)")
        #expect(!text.contains("tag.search"), "\(text)")
        #expect(text.contains("Showing nodes accounting for 10,"), "\(text)")
    }
}
