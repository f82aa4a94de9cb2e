extension Profile {
    /// An fprof-style text report: for each function, who called it and whom it called, with
    /// calls and times, sorted by accumulated time.
    ///
    /// ```swift
    /// let profile = window.stop()
    /// print(profile.report())
    /// ```
    ///
    /// The header gives the mode, the window's duration, the total calls and own time, and any
    /// dropped events or misuse. Then one block per function, by ACC descending: its callers
    /// (`(root)` for calls at the top of a thread's stack), the function itself marked `*`, and
    /// its callees, indented further:
    ///
    /// ```
    /// mode: fprof (full call paths; calls and own wall time per path)
    /// duration: 12.000 ms
    /// total calls: 6
    /// total own time: 10.000 ms
    ///
    /// CNT: calls. ACC: time in the function and what it called, recursion counted once.
    /// OWN: time in the function itself. Callers above each * line, callees below.
    ///
    ///                CNT   ACC (ms)   OWN (ms)
    ///   (root)         1     10.000      2.000
    /// * main           1     10.000      2.000
    ///     work         2      8.000      5.000
    ///
    ///   main           2      8.000      5.000
    /// * work           2      8.000      5.000
    ///     parse        3      3.000      3.000
    /// …
    /// ```
    ///
    /// On a caller or callee line the numbers are those of the calls along that edge only: CNT
    /// and OWN of the callee's calls from that caller, ACC the time spent under them (under
    /// recursion, the outermost occurrence of the edge on a path takes it). In cprof mode, which
    /// reads no clock, only CNT is shown and blocks are sorted by it. In eprof mode the profile
    /// is flat, so every caller is `(root)`.
    ///
    /// - Returns: the report, lines ending in "\n".
    public func report() -> String {
        let profile = normalizedForOutput
        let totals = CallGraphTotals(profile)
        let timed = mode != .cprof

        var lines = ["mode: \(mode.rawValue) (\(mode.summary))"]
        lines.append("duration: \(FixedPoint.milliseconds(durationNanoseconds)) ms")
        lines.append("total calls: \(profile.nodes.reduce(0) { $0 &+ $1.calls })")
        if timed {
            let own = profile.nodes.reduce(0) { $0 &+ $1.ownNanoseconds }
            lines.append("total own time: \(FixedPoint.milliseconds(own)) ms")
        }
        if statistics.eventsDropped > 0 {
            lines.append("events dropped: \(statistics.eventsDropped) (a thread's ring buffer was full)")
        }
        let misuse = statistics.misuse.filter { $0.count > 0 }
        if !misuse.isEmpty {
            lines.append("misuse: " + misuse.map { "\($0.label): \($0.count)" }.joined(separator: ", "))
        }
        if statistics.enteredBeforeRecording > 0 {
            lines.append("entered before recording: \(statistics.enteredBeforeRecording) exits")
        }
        lines.append("")
        if timed {
            lines.append("CNT: calls. ACC: time in the function and what it called, recursion counted once.")
            lines.append("OWN: time in the function itself. Callers above each * line, callees below.")
        } else {
            lines.append("CNT: calls. Callers above each * line, callees below.")
        }
        lines.append("")

        // Rows first, then widths, so that every column lines up across all blocks.
        let names = Self.displayNames(profile.functions)
        func name(_ function: Int32) -> String { function < 0 ? "(root)" : names[Int(function)] }
        func numbers(_ totals: CallGraphTotals.Totals) -> [String] {
            timed
                ? [
                    String(totals.calls), FixedPoint.milliseconds(totals.accumulated),
                    FixedPoint.milliseconds(totals.own),
                ]
                : [String(totals.calls)]
        }
        // By ACC (cprof: CNT) descending, then CNT, then name, then index: a total order, so the
        // report does not depend on dictionary order.
        func before(_ a: (Int32, CallGraphTotals.Totals), _ b: (Int32, CallGraphTotals.Totals)) -> Bool {
            let (left, right) = timed ? (a.1.accumulated, b.1.accumulated) : (a.1.calls, b.1.calls)
            if left != right { return left > right }
            if a.1.calls != b.1.calls { return a.1.calls > b.1.calls }
            return (name(a.0), a.0) < (name(b.0), b.0)
        }

        var rows: [(label: String, numbers: [String])?] = []  // nil: a blank line between blocks
        // Each edge is listed twice: under its callee's block as a caller, under its caller's
        // block as a callee (`(root)` has no block). Edges with no value (an idle path) add
        // nothing to read; a function keeps its block while it or a call it made has a value.
        var callers: [Int32: [(function: Int32, totals: CallGraphTotals.Totals)]] = [:]
        var callees: [Int32: [(function: Int32, totals: CallGraphTotals.Totals)]] = [:]
        for (edge, edgeTotals) in totals.edges where !edgeTotals.isZero {
            callers[edge.callee, default: []].append((edge.caller, edgeTotals))
            callees[edge.caller, default: []].append((edge.callee, edgeTotals))
        }
        let functionsInOrder = totals.functions
            .filter { !$0.value.isZero || callees[$0.key] != nil }
            .sorted { before(($0.key, $0.value), ($1.key, $1.value)) }
            .map(\.key)
        func sorted(_ list: [(function: Int32, totals: CallGraphTotals.Totals)]?) -> [(Int32, [String])] {
            (list ?? []).sorted { before(($0.function, $0.totals), ($1.function, $1.totals)) }
                .map { ($0.function, numbers($0.totals)) }
        }
        for function in functionsInOrder {
            if !rows.isEmpty { rows.append(nil) }
            for (caller, cells) in sorted(callers[function]) {
                rows.append(("  " + name(caller), cells))
            }
            rows.append(("* " + name(function), numbers(totals.functions[function]!)))
            for (callee, cells) in sorted(callees[function]) {
                rows.append(("    " + name(callee), cells))
            }
        }

        let headers = timed ? ["CNT", "ACC (ms)", "OWN (ms)"] : ["CNT"]
        let labelWidth = rows.reduce(0) { max($0, $1?.label.count ?? 0) }
        var widths = headers.map(\.count)
        for case let row? in rows {
            for (column, number) in row.numbers.enumerated() { widths[column] = max(widths[column], number.count) }
        }
        func line(_ label: String, _ cells: [String]) -> String {
            var text = label + String(repeating: " ", count: labelWidth - label.count)
            for (column, cell) in cells.enumerated() {
                text += String(repeating: " ", count: 3 + widths[column] - cell.count) + cell
            }
            return text
        }
        lines.append(line("", headers))
        for row in rows {
            lines.append(row.map { line($0.label, $0.numbers) } ?? "")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Function names for the report, with `(file:line)` added where two functions share a name.
    private static func displayNames(_ functions: [Function]) -> [String] {
        var count: [String: Int] = [:]
        for function in functions { count[function.name, default: 0] += 1 }
        return functions.map { function in
            count[function.name]! > 1 ? "\(function.name) (\(function.file):\(function.line))" : function.name
        }
    }
}
