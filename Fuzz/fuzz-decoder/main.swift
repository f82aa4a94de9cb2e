import PprofFuzzTargets

FuzzDriver.main(corpus: "decoder", DecoderFuzz.check)
