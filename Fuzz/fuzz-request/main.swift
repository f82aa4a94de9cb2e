import PprofFuzzTargets

FuzzDriver.main(corpus: "request", RequestFuzz.check)
