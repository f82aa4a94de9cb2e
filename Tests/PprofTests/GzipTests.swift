import Pprof
import Testing

@Suite struct GzipTests {
    @Test func roundTripsSmallAndEmptyInputs() throws {
        for text in ["", "a", "hello, pprof", String(repeating: "folded;stack 1\n", count: 1000)] {
            let bytes = Array(text.utf8)
            let packed = Gzip.compress(bytes)
            // gzip magic, then CM 8 (deflate): a gzip wrapper, not zlib's.
            #expect(Array(packed.prefix(3)) == [0x1F, 0x8B, 0x08])
            #expect(try Gzip.decompress(packed) == bytes)
        }
    }

    @Test func roundTripsOneMegabyte() throws {
        var generator = SplitMix64(seed: 7)
        // Incompressible (deflate stores it), then compressible (a few symbols, long runs).
        let random = (0..<1 << 20).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let packedRandom = Gzip.compress(random)
        #expect(try Gzip.decompress(packedRandom) == random)
        #expect(packedRandom.count < random.count + random.count / 100)

        let runs = (0..<1 << 20).map { UInt8(($0 / 1000) % 7) }
        let packedRuns = Gzip.compress(runs)
        #expect(try Gzip.decompress(packedRuns) == runs)
        #expect(packedRuns.count < runs.count / 50)
        #expect(try Gzip.decompress(Gzip.compress(runs, level: 9)) == runs)
    }

    @Test func concatenatedMembersReadAsOne() throws {
        let first = Array("first ".utf8)
        let second = Array("second".utf8)
        #expect(try Gzip.decompress(Gzip.compress(first) + Gzip.compress(second)) == first + second)
    }

    @Test func corruptTruncatedAndOversizedInputsThrow() throws {
        let bytes = Array(String(repeating: "0123456789", count: 1000).utf8)
        let packed = Gzip.compress(bytes)
        #expect(throws: Gzip.Failure.self) { try Gzip.decompress([]) }
        #expect(throws: Gzip.Failure.self) { try Gzip.decompress(Array("not gzip".utf8)) }
        #expect(throws: Gzip.Failure.self) { try Gzip.decompress(Array(packed.dropLast(1))) }
        #expect(throws: Gzip.Failure.self) { try Gzip.decompress(Array(packed.prefix(packed.count / 2))) }
        #expect(throws: Gzip.Failure.self) { try Gzip.decompress(packed + [0x00, 0x01]) }
        var badCRC = packed
        badCRC[badCRC.count - 5] ^= 0xFF
        #expect(throws: Gzip.Failure.self) { try Gzip.decompress(badCRC) }
        #expect(throws: Gzip.Failure.self) { try Gzip.decompress(packed, limit: bytes.count - 1) }
        #expect(try Gzip.decompress(packed, limit: bytes.count) == bytes)
    }
}
