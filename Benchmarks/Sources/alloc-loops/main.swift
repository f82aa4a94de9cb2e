// The allocation loops without PprofMemory: glibc's malloc. See ClassLoopCore and memory-ab.sh.
import ClassLoopCore

AllocationLoops.main(label: "plain")
