import PprofHTTP

/// The query-string parser (`QueryParameters`) on arbitrary bytes: it either refuses the query
/// with a reason or yields parameters that obey what its accessors promise.
///
/// ```swift
/// QueryFuzz.check(Array("seconds=5&type=eprof".utf8))
/// ```
package enum QueryFuzz {
    package static func check(_ input: [UInt8]) {
        // NIO hands the routes a String; invalid UTF-8 arrives repaired, as it is here.
        let text = String(decoding: input, as: UTF8.self)
        let query: QueryParameters
        do {
            query = try QueryParameters(parsing: text[...])
        } catch let invalid as QueryParameters.Invalid {
            require(!invalid.reason.isEmpty, "a refusal without a reason")
            return
        } catch {
            fatalError("QueryParameters threw \(error)")
        }
        // Empty pieces are skipped, so there are never more pairs than pieces.
        require(
            query.pairs.count <= text.utf8.count { $0 == UInt8(ascii: "&") } + 1,
            "\(query.pairs.count) pairs from \(text)"
        )

        for name in Set(query.pairs.map(\.name)).prefix(8) + ["seconds", "debug", "type"] {
            let repeated = query.pairs.count { $0.name == name } > 1
            refusedOr(repeated) { _ = try query.value(name) }
            for range in [1...300, 0...Int.max, Int.min...Int.max, 5...5] {
                refusedOr(repeated) {
                    let number = try query.integer(name, in: range, default: range.lowerBound)
                    require(range.contains(number), "\(number) outside \(range)")
                }
            }
            let allowed = ["fprof", "eprof", "cprof"]
            refusedOr(repeated) {
                let choice = try query.choice(name, of: allowed, default: "fprof")
                require(allowed.contains(choice), "\(choice) is not one of \(allowed)")
            }
        }
        checkPercentDecoding(text)
    }

    /// Runs `body`, which may refuse with `Invalid`; when `mustRefuse` (a repeated parameter),
    /// it has to.
    private static func refusedOr(_ mustRefuse: Bool, _ body: () throws -> Void) {
        do {
            try body()
            require(!mustRefuse, "a repeated parameter was accepted")
        } catch let invalid as QueryParameters.Invalid {
            require(!invalid.reason.isEmpty, "a refusal without a reason")
        } catch {
            fatalError("QueryParameters threw \(error)")
        }
    }

    /// Decoding inverts a strict encoding of the same text, and leaves text without `%` and
    /// `+` as it was.
    private static func checkPercentDecoding(_ text: String) {
        // Bytes, not Characters: "+" followed by a combining mark is one Character.
        if !text.utf8.contains(UInt8(ascii: "%")) && !text.utf8.contains(UInt8(ascii: "+")) {
            require(QueryParameters.percentDecode(text[...]) == text, "decoding changed \(text)")
        }
        var encoded = ""
        for byte in text.utf8 {
            let hex = Array("0123456789ABCDEF".utf8)
            encoded += String(decoding: [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
        }
        require(QueryParameters.percentDecode(encoded[...]) == text, "percent-decoding lost \(text)")
    }
}
