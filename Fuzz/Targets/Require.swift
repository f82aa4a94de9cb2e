/// A property of the input that must hold; when it does not, the message and a trap, which
/// libFuzzer reports as a crash. Unlike `precondition`, whose message `-O` drops, the message
/// is printed in release builds, where fuzzers run.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}
