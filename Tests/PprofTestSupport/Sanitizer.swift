#if canImport(Glibc)
import Glibc
#endif

/// The sanitizer this test process runs under, if any ("thread" or "address"), found by its
/// runtime's symbols. Sanitizers slow every thread down and keep memory of their own per thread,
/// so a few tests scale their time and memory bounds by it (and say so).
///
/// ```swift
/// let bound = activeSanitizer == nil ? 16 << 20 : 64 << 20
/// ```
public let activeSanitizer: String? = {
    let everywhere = UnsafeMutableRawPointer(bitPattern: 0)  // RTLD_DEFAULT
    if dlsym(everywhere, "__tsan_init") != nil { return "thread" }
    if dlsym(everywhere, "__asan_init") != nil { return "address" }
    return nil
}()
