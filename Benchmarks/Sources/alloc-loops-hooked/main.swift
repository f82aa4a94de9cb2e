// The allocation loops with PprofMemory linked, a recorded scope open (the recorder's state on
// this thread, as a service's request thread has). See ClassLoopCore and memory-ab.sh.
import ClassLoopCore
import Pprof
import PprofMemory

#if canImport(Glibc)
import Glibc
#endif

guard MemoryHooks.status == .active else {
    print("the hooks are not active: \(MemoryHooks.status)")
    exit(1)
}
Trace.scope("alloc-loops") {
    AllocationLoops.main(label: "hooked")
}
