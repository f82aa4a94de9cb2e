#if canImport(Glibc)
import Glibc
#endif

/// Memory for the call tree's arrays. A tree of a million nodes spans about 100 MB that folding
/// reads at random; with 4 KiB pages nearly every access also misses the TLB. Blocks of 2 MiB
/// and more are mapped on their own and advised to use huge pages (where the kernel's
/// transparent huge pages are `madvise` or `always`), which removes most of those misses.
/// Smaller blocks come from malloc, aligned to a cache line.
enum TreeMemory {
    static let hugePage = 2 << 20

    /// `bytes` of memory aligned to 64 bytes at least; nil when the system has none.
    static func allocate(_ bytes: Int) -> UnsafeMutableRawPointer? {
        if bytes >= hugePage {
            let size = (bytes + hugePage - 1) / hugePage * hugePage
            guard let memory = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                memory != MAP_FAILED
            else { return nil }
            _ = madvise(memory, size, MADV_HUGEPAGE)
            return memory
        }
        var memory: UnsafeMutableRawPointer?
        guard posix_memalign(&memory, 64, max(bytes, 64)) == 0 else { return nil }
        return memory
    }

    /// Frees what `allocate(bytes)` returned, given the same `bytes`.
    static func deallocate(_ memory: UnsafeMutableRawPointer, _ bytes: Int) {
        if bytes >= hugePage {
            munmap(memory, (bytes + hugePage - 1) / hugePage * hugePage)
        } else {
            free(memory)
        }
    }
}
