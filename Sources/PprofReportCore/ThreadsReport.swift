import Pprof
import PprofTestKit

/// A threads profile (`/debug/pprof/threads`, sample type `threads/count`) as text: identical
/// stacks grouped with how many threads are in them and which, each group's labels under its
/// stack, then the functions by how many threads are inside them (`go tool pprof -top`'s table).
///
/// ```swift
/// let profile = try ProfileSource.load("http://127.0.0.1:6060/debug/pprof/threads")
/// print(try ThreadsReport.render(profile), terminator: "")
/// // threads profile: 3 threads inside a scope, 1 stack
/// //
/// // 3 threads: "worker" (4211), "worker" (4212), "worker" (4213)
/// //     blk.wait
/// //     blk.outer
/// //     labels: route=/users/:id
/// // …
/// ```
package enum ThreadsReport {
    /// Whether `profile` is a threads profile: a `threads/count` sample type.
    package static func recognizes(_ profile: DecodedProfile) -> Bool {
        guard let index = profile.sampleTypeIndex("threads") else { return false }
        return profile.string(profile.sampleTypes[index].unit) == "count"
    }

    /// - Throws: `ReportFailure` when the profile has no `threads` sample type.
    package static func render(_ profile: DecodedProfile) throws -> String {
        let column = try SampleColumn(profile, named: "threads")
        struct Group: Hashable {
            var frames: [String]
            var labels: [String: String]
        }
        var members: [Group: [String]] = [:]
        var counts: [Group: Int64] = [:]
        var order: [Group] = []
        var total: Int64 = 0
        for stack in profile.stacks where column.index < stack.values.count {
            var labels = stack.labels
            let name = labels.removeValue(forKey: "thread")
            let id = labels.removeValue(forKey: "thread_id")
            let group = Group(frames: stack.frames, labels: labels)
            if counts[group] == nil { order.append(group) }
            let value = stack.values[column.index]
            counts[group, default: 0] &+= value
            total &+= value
            switch (name, id) {
            case let (name?, id?): members[group, default: []].append("\"\(name)\" (\(id))")
            case let (name?, nil): members[group, default: []].append("\"\(name)\"")
            case let (nil, id?): members[group, default: []].append("(\(id))")
            case (nil, nil): break
            }
        }
        // The biggest group first; ties in the order the profile lists them.
        let groups = order.enumerated().sorted { a, b in
            let (x, y) = (counts[a.element]!, counts[b.element]!)
            return x != y ? x > y : a.offset < b.offset
        }.map(\.element)

        var text = "threads profile: \(total) thread\(total == 1 ? "" : "s") inside a scope, "
        text += "\(groups.count) stack\(groups.count == 1 ? "" : "s")\n"
        for group in groups {
            let count = counts[group]!
            let who = members[group].map { ": " + $0.joined(separator: ", ") } ?? ""
            text += "\n\(count) thread\(count == 1 ? "" : "s")\(who)\n"
            for frame in group.frames.reversed() { text += "    \(frame)\n" }
            if !group.labels.isEmpty {
                let labels = group.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                text += "    labels: " + labels.joined(separator: ", ") + "\n"
            }
        }
        return text + "\n" + (try TopTable.render(profile, sampleType: "threads"))
    }
}
