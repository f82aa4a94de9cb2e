import PprofFuzzTargets
import PprofTestSupport
import Testing

/// Every committed fuzz input (`Fuzz/corpus/`: the seeds, and each input that once crashed a
/// fuzzer) through its fuzzer's property, so that a fixed crash stays fixed in every build the
/// suite runs in (debug, release, thread and address sanitizers), not only where libFuzzer links.
@Suite(.serialized, .recorderExclusive)
struct FuzzCorpusTests {
    @Test func queryCorpus() {
        #expect(replay("query", QueryFuzz.check) > 0)
    }

    @Test func requestCorpus() {
        #expect(replay("request", RequestFuzz.check) > 0)
    }

    @Test func decoderCorpus() {
        #expect(replay("decoder", DecoderFuzz.check) > 0)
    }

    /// The number of inputs replayed; a property that fails traps the test process.
    private func replay(_ corpus: String, _ property: ([UInt8]) -> Void) -> Int {
        var count = 0
        for file in FuzzDriver.files(at: FuzzDriver.seedCorpus(corpus)) {
            guard let bytes = FuzzDriver.read(file) else {
                Issue.record("cannot read \(file)")
                continue
            }
            property(bytes)
            count += 1
        }
        return count
    }
}
