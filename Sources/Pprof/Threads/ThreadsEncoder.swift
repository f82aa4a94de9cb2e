import CPprof

/// The `threads/count` profile of `Threads.pprof`: one sample per thread inside a scope, whose
/// locations are its open scopes leaf first and whose labels are `thread` (its name),
/// `thread_id` (its kernel id, as `top -H` and gdb show it) and the labels of the label sets the
/// thread is inside (`Trace.withLabels`); a small source for `PprofBuilder`, which
/// keeps the rules every profile here follows (DESIGN.md).
///
/// ```swift
/// let bytes = Gzip.compress(ThreadsEncoder.encode(Threads.snapshot()))
/// ```
enum ThreadsEncoder {
    static func encode(_ threads: [Threads.Thread]) -> [UInt8] {
        var builder = PprofBuilder(
            sampleTypes: [PprofBuilder.ValueType(type: "threads", unit: "count")],
            defaultSampleType: "threads",
            timeNanos: Int64(clamping: CPprof_wallNanos()),
            durationNanos: 1,
            capacity: 256 + threads.count * 64
        )
        for thread in threads {
            let locations = thread.frames.reversed().map { frame in
                builder.location(Profile.Function(name: frame.name, file: frame.file, line: frame.line))
            }
            // Names repeat (pools name their threads alike); the kernel id does not. A user label
            // named like ours is left out: a key is on a sample once.
            var labels = [builder.label("thread", thread.name), builder.label("thread_id", String(thread.kernelID))]
            for (key, value) in thread.labels.sorted(by: { $0.key < $1.key })
            where key != "thread" && key != "thread_id" {
                labels.append(builder.label(key, value))
            }
            builder.addSample(locations: locations, values: CollectionOfOne(1), labels: labels)
        }
        builder.comments = ["swift-pprof threads: the open scopes of every thread inside one, one sample each"]
        return builder.finish()
    }
}
