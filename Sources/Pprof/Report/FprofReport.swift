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
    /// its callees, indented further. ACC % and OWN % are shares of the total own time (the
    /// window's recorded time); ACC/CALL is ACC per call, in microseconds:
    ///
    /// ```
    /// mode: fprof (full call paths; calls and own wall time per path)
    /// duration: 12.000 ms
    /// total calls: 6
    /// total own time: 10.000 ms
    ///
    /// CNT: calls. ACC: time in the function and what it called, recursion counted once.
    /// OWN: time in the function itself. %: of the total own time. ACC/CALL: ACC per call.
    /// Callers above each * line, callees below.
    ///
    ///                CNT   ACC (ms)    ACC %   OWN (ms)    OWN %   ACC/CALL (µs)
    ///   (root)         1     10.000  100.00%      2.000   20.00%       10000.000
    /// * main           1     10.000  100.00%      2.000   20.00%       10000.000
    ///     work         2      8.000   80.00%      5.000   50.00%        4000.000
    /// …
    /// ```
    ///
    /// On a caller or callee line the numbers are those of the calls along that edge only: CNT
    /// and OWN of the callee's calls from that caller, ACC the time spent under them (under
    /// recursion, the outermost occurrence of the edge on a path takes it). In cprof mode, which
    /// reads no clock, CNT and CNT % (of the total calls) are shown and blocks are sorted by CNT.
    /// In eprof mode the profile is flat (no callers, no callees, no ACC): the report is one
    /// table of functions with CNT, OWN, OWN % and OWN/CALL, by OWN descending. Where the window
    /// took CPU samples, a CPU column follows: sampled CPU time in the function and what it called
    /// (fprof; in eprof, in the function itself), an estimate beside the exact wall time, so that
    /// a function that waits shows much more ACC than CPU.
    ///
    /// - Returns: the report, lines ending in "\n".
    public func report() -> String {
        let profile = normalizedForOutput
        let totals = CallGraphTotals(profile)
        let timed = mode != .cprof
        let sampled = timed && statistics.cpuHz > 0
        let totalCalls = profile.nodes.reduce(0) { $0 &+ $1.calls }
        let totalOwn = profile.nodes.reduce(0) { $0 &+ $1.ownNanoseconds }

        var lines = reportHeader(totalCalls: totalCalls, totalOwn: totalOwn)
        if mode == .eprof {
            return (lines + flatTable(profile, totals: totals, totalOwn: totalOwn)).joined(separator: "\n") + "\n"
        }
        if timed {
            lines.append("CNT: calls. ACC: time in the function and what it called, recursion counted once.")
            lines.append("OWN: time in the function itself. %: of the total own time. ACC/CALL: ACC per call.")
            lines.append("Callers above each * line, callees below.")
            if sampled {
                lines.append(
                    "CPU: CPU time in the function and what it called, sampled at \(statistics.cpuHz) Hz (an estimate)."
                )
            }
        } else {
            lines.append("CNT: calls. CNT %: of the total calls. Callers above each * line, callees below.")
        }
        lines.append("")

        // Rows first, then widths, so that every column lines up across all blocks.
        let names = Self.displayNames(profile.functions)
        func name(_ function: Int32) -> String { function < 0 ? "(root)" : names[Int(function)] }
        func numbers(_ totals: CallGraphTotals.Totals) -> [String] {
            guard timed else { return [String(totals.calls), Self.percent(totals.calls, of: totalCalls)] }
            let cells = [
                String(totals.calls), FixedPoint.milliseconds(totals.accumulated),
                Self.percent(totals.accumulated, of: totalOwn), FixedPoint.milliseconds(totals.own),
                Self.percent(totals.own, of: totalOwn), Self.perCall(totals.accumulated, calls: totals.calls),
            ]
            return sampled ? cells + [FixedPoint.milliseconds(totals.cpuAccumulated)] : cells
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

        let timedHeaders =
            ["CNT", "ACC (ms)", "ACC %", "OWN (ms)", "OWN %", "ACC/CALL (µs)"] + (sampled ? ["CPU (ms)"] : [])
        let headers = timed ? timedHeaders : ["CNT", "CNT %"]
        lines += Self.aligned(headers: headers, rows: rows)
        return lines.joined(separator: "\n") + "\n"
    }

    /// Mode, duration, totals, and each loss or misuse that is not zero (read from the
    /// statistics, as the comments are).
    private func reportHeader(totalCalls: UInt64, totalOwn: UInt64) -> [String] {
        var lines = ["mode: \(mode.rawValue) (\(mode.summary))"]
        lines.append("duration: \(FixedPoint.milliseconds(durationNanoseconds)) ms")
        lines.append("total calls: \(totalCalls)")
        if mode != .cprof {
            lines.append("total own time: \(FixedPoint.milliseconds(totalOwn)) ms")
        }
        if mode != .cprof && statistics.cpuHz > 0 {
            lines.append("cpu samples: \(statistics.cpuSamples) at \(statistics.cpuHz) Hz")
        } else if mode != .cprof && !statistics.cpuUnavailable.isEmpty {
            lines.append("cpu not sampled: \(statistics.cpuUnavailable)")
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
        return lines
    }

    /// eprof's report: one row per function (CNT, OWN, OWN %, OWN/CALL), by OWN descending,
    /// then CNT, then name. A flat profile has no callers or callees to show.
    private func flatTable(_ profile: Profile, totals: CallGraphTotals, totalOwn: UInt64) -> [String] {
        let names = Self.displayNames(profile.functions)
        let sampled = statistics.cpuHz > 0
        let rows = totals.functions.filter { !$0.value.isZero }
            .sorted { a, b in
                if a.value.own != b.value.own { return a.value.own > b.value.own }
                if a.value.cpu != b.value.cpu { return a.value.cpu > b.value.cpu }
                if a.value.calls != b.value.calls { return a.value.calls > b.value.calls }
                return (names[Int(a.key)], a.key) < (names[Int(b.key)], b.key)
            }
            .map { function, totals -> (label: String, numbers: [String])? in
                let numbers = [
                    String(totals.calls), FixedPoint.milliseconds(totals.own), Self.percent(totals.own, of: totalOwn),
                    Self.perCall(totals.own, calls: totals.calls),
                ]
                return (names[Int(function)], sampled ? numbers + [FixedPoint.milliseconds(totals.cpu)] : numbers)
            }
        var lines = [
            "CNT: calls. OWN: time in the function itself. OWN %: of the total own time. OWN/CALL: OWN per call."
        ]
        if sampled {
            lines.append("CPU: CPU time in the function itself, sampled at \(statistics.cpuHz) Hz (an estimate).")
        }
        lines.append("")
        let headers = ["CNT", "OWN (ms)", "OWN %", "OWN/CALL (µs)"] + (sampled ? ["CPU (ms)"] : [])
        lines += Self.aligned(headers: headers, rows: rows, labelLast: true)
        return lines
    }

    /// The rows under their headers, every number right-aligned in its column; the labels (the
    /// functions) first, or last as `go tool pprof -top` prints them. nil rows are blank lines.
    private static func aligned(
        headers: [String],
        rows: [(label: String, numbers: [String])?],
        labelLast: Bool = false
    ) -> [String] {
        let labelWidth = rows.reduce(0) { max($0, $1?.label.count ?? 0) }
        var widths = headers.map(\.count)
        for case let row? in rows {
            for (column, number) in row.numbers.enumerated() { widths[column] = max(widths[column], number.count) }
        }
        func line(_ label: String, _ cells: [String]) -> String {
            var text = labelLast ? "" : label + String(repeating: " ", count: labelWidth - label.count)
            for (column, cell) in cells.enumerated() {
                let gap = labelLast && column == 0 ? 0 : 3
                text += String(repeating: " ", count: gap + widths[column] - cell.count) + cell
            }
            return labelLast ? text + (label.isEmpty ? "" : "   " + label) : text
        }
        return [line("", headers)] + rows.map { row in row.map { line($0.label, $0.numbers) } ?? "" }
    }

    /// A share with two decimals and `%`; 0.00% of a zero total.
    private static func percent(_ value: UInt64, of total: UInt64) -> String {
        guard total > 0 else { return "0.00%" }
        return FixedPoint.format(Double(value) / Double(total) * 100, decimals: 2) + "%"
    }

    /// Nanoseconds per call as microseconds with three decimals; `-` where there was no call
    /// (time under `(entered before recording)`, whose enter was not recorded).
    private static func perCall(_ nanoseconds: UInt64, calls: UInt64) -> String {
        guard calls > 0 else { return "-" }
        return FixedPoint.format(Double(nanoseconds) / Double(calls) / 1000, decimals: 3)
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
