// The allocation loops with Pprof linked and a recorded scope open, but not PprofMemory: what
// the recorder alone does to them (nothing, memory-ab.sh finds), apart from the hooks. See
// ClassLoopCore and memory-ab.sh.
import ClassLoopCore
import Pprof

Trace.scope("alloc-loops") {
    AllocationLoops.main(label: "pprof")
}
