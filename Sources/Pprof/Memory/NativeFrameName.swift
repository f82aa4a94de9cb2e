/// Names the native frames of a sampled block (the return addresses of a frame-pointer walk
/// from `malloc` up) as unnamed scopes are named: from the symbol table of the object that holds
/// the address, a Swift symbol demangled and shortened to how Swift writes the function.
///
/// ```swift
/// let f = NativeFrameName.function(returnAddress: pc)
/// // f.name "UserService.lookup(id:)", f.systemName "pprof_demo.UserService.lookup(id: Swift.Int) -> …"
/// ```
enum NativeFrameName {
    static func function(returnAddress: UInt) -> Profile.Function {
        // The call is the instruction before the return address.
        let address = returnAddress &- 1
        guard let object = CallSiteNames.object(at: address) else {
            return Profile.Function(name: hex(returnAddress), file: "", line: 0)
        }
        let mapping = object.isMain ? nil : object.mapping
        let placement = CallSiteNames.placement(of: address, in: object)
        let linkAddress = placement.address
        guard let (symbol, _) = CallSiteNames.symbol(at: address) else {
            if placement.isLinkageStub {
                // A CPU sample in a PLT stub: a call into another object, on its way there.
                let file = object.isMain ? ExecutableMapping.path : object.mapping.path
                let name = "(PLT stub in \(file.split(separator: "/").last ?? ""))"
                return Profile.Function(name: name, file: "", line: 0, mapping: mapping, address: linkAddress)
            }
            let objectName = object.isMain ? "" : " (\(object.mapping.path.split(separator: "/").last ?? ""))"
            return Profile.Function(
                name: hex(returnAddress) + objectName,
                file: "",
                line: 0,
                mapping: mapping,
                address: linkAddress
            )
        }
        let demangled = CallSiteNames.demangle(symbol)
        return Profile.Function(
            // A C++ name comes back short already; a Swift one is shortened as scopes' are.
            name: symbol.hasPrefix("_Z") ? demangled ?? symbol : demangled.map(shortName) ?? symbol,
            systemName: demangled ?? symbol,
            file: "",
            line: 0,
            mapping: mapping,
            address: linkAddress
        )
    }

    private static func hex(_ address: UInt) -> String {
        "0x" + String(address, radix: 16)
    }

    /// `Module.Type.method(label: Type, _: Type) -> Result` as `Type.method(label:_:)`, as
    /// unnamed scopes are named: modifiers, the module, generic arguments and types dropped; a
    /// closure as `closure #N in` its function; a thunk's words kept before its function.
    static func shortName(_ demangled: String) -> String {
        var text = Substring(demangled)
        for modifier in ["static ", "class "] where text.hasPrefix(modifier) { text = text.dropFirst(modifier.count) }
        // A specialization names its function after its parameters' description: keep the function.
        for specialization in [
            "function signature specialization ", "merged function signature specialization ",
            "generic specialization ", "generic pre-specialization ",
        ] where text.hasPrefix(specialization) {
            var depth = 0
            var index = text.index(text.startIndex, offsetBy: specialization.count)
            while index < text.endIndex {
                let c = text[index]
                if c == "<" { depth += 1 } else if c == ">" { depth -= 1 }
                index = text.index(after: index)
                if depth == 0 && text[index...].hasPrefix(" of ") {
                    return shortName(String(text[text.index(index, offsetBy: 4)...]))
                }
            }
        }
        let thunks = [
            ("partial apply forwarder for ", "partial apply for "),
            ("reabstraction thunk helper from ", "thunk for "),
            ("merged ", "merged "),
            ("specialized ", "specialized "),
        ]
        for (thunk, shown) in thunks where text.hasPrefix(thunk) {
            return shown + shortName(String(text.dropFirst(thunk.count)))
        }
        if text.hasPrefix("closure #") || text.hasPrefix("implicit closure #") {
            // "closure #2 (Int) -> () in f(x: Int) -> ()": the closure's number, then its function.
            let words = text.split(separator: " ", maxSplits: 3)
            let label = words.prefix(text.hasPrefix("implicit") ? 3 : 2).joined(separator: " ")
            guard let range = text.firstRange(of: " in ") else { return label }
            return label + " in " + shortName(String(text[range.upperBound...]))
        }
        let characters = Array(text)
        // The name: up to the first parenthesis outside generic arguments, which are dropped.
        var name = ""
        var depth = 0
        var open: Int?
        for (i, c) in characters.enumerated() {
            if c == "<" {
                depth += 1
            } else if c == ">" {
                depth -= 1
            } else if c == "(" && depth == 0 {
                open = i
                break
            } else if depth == 0 {
                name.append(c)
            }
        }
        guard let open else { return withoutModule(name) }
        // The parameters: each top-level "label: Type" (or a bare label, already shortened)
        // becomes "label:", a bare type "_:".
        var parameters: [Substring] = []
        var current = ""
        var level = 0
        for c in characters[(open + 1)...] {
            if c == "(" || c == "<" || c == "[" {
                level += 1
            } else if c == ")" || c == ">" || c == "]" {
                if level == 0 && c == ")" { break }
                level -= 1
            }
            if level == 0 && c == "," {
                parameters.append(current.trimmingSpaces)
                current = ""
            } else {
                current.append(c)
            }
        }
        if !current.trimmingSpaces.isEmpty { parameters.append(current.trimmingSpaces) }
        let labels = parameters.map { parameter -> String in
            if let colon = parameter.firstIndex(of: ":") {
                let label = parameter[..<colon]
                return label.contains(" ") ? "_:" : String(label) + ":"
            }
            return "_:"
        }
        return withoutModule(name) + "(" + labels.joined() + ")"
    }

    private static func withoutModule(_ name: String) -> String {
        guard let dot = name.firstIndex(of: "."), !name[..<dot].contains(" ") else { return name }
        return String(name[name.index(after: dot)...])
    }
}

extension String {
    fileprivate var trimmingSpaces: Substring {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
