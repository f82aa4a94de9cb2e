extension Profile {
    /// The profile as folded stacks, the input of Brendan Gregg's `flamegraph.pl`, inferno and
    /// speedscope: one line per call path with a non-zero value, `root;child;leaf VALUE`.
    ///
    /// ```swift
    /// print(profile.folded(), terminator: "")   // saved as out.folded: flamegraph.pl out.folded > out.svg
    /// // main;parse 3000000
    /// // main;work;parse 1500000
    /// ```
    ///
    /// VALUE is the path's own time in nanoseconds (fprof, eprof), or its calls (cprof). eprof
    /// paths are one frame. In names, `\` becomes `\\`, `;` becomes `\x3b`, a line feed `\n`, a
    /// carriage return `\r` and any other line break `\u{…}`, so a name never splits a frame or
    /// a line.
    ///
    /// - Returns: the lines, each ending in "\n", in the order of the profile's call paths.
    public func folded() -> String {
        let profile = normalizedForOutput
        let names = profile.functions.map { Self.foldedName($0.name) }
        var text = ""
        for index in profile.nodes.indices {
            let value = profile.primaryValue(of: profile.nodes[index])
            guard value != 0 else { continue }
            text += profile.functionPath(of: index).reversed().map { names[Int($0)] }.joined(separator: ";")
            text += " \(value)\n"
        }
        return text
    }

    /// `name` as one frame of a folded line: `;`, `\\` and line breaks escaped as `folded()` says.
    package static func foldedName(_ name: String) -> String {
        guard name.unicodeScalars.contains(where: { $0 == ";" || $0 == "\\" || Character($0).isNewline }) else {
            return name
        }
        var escaped = ""
        for scalar in name.unicodeScalars {
            switch scalar {
            case "\\": escaped += "\\\\"
            case ";": escaped += "\\x3b"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case _ where Character(scalar).isNewline: escaped += "\\u{\(String(scalar.value, radix: 16))}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
