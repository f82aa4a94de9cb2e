import PprofFuzzTargets

FuzzDriver.main(corpus: "query", QueryFuzz.check)
