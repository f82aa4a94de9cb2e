/// The parameters of a request's query, decoded strictly: a malformed query is an error, never
/// a silent default (Go's net/http/pprof falls back to 30 s on `seconds=abc`; we answer 400).
///
/// ```swift
/// let query = try QueryParameters(parsing: "seconds=5&type=eprof")
/// let seconds = try query.integer("seconds", in: 1...300, default: 30)   // 5
/// ```
package struct QueryParameters: Sendable {
    /// Why a query or one of its parameters was refused, as the one-line body of a 400.
    package struct Invalid: Error, Sendable, Equatable {
        package var reason: String
    }

    /// Every parameter as decoded, in order; repeats kept so that the known ones can refuse them.
    package private(set) var pairs: [(name: String, value: String)] = []

    /// Decodes `query` (the part of the target after `?`, without it). Empty pieces (`a=1&&b=2`)
    /// are skipped; a piece without `=` is a parameter with an empty value.
    ///
    /// - Throws: `Invalid` when a name or value is not valid percent-encoded UTF-8.
    package init(parsing query: Substring) throws {
        for piece in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = piece.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.percentDecode(parts[0]),
                let value = parts.count > 1 ? Self.percentDecode(parts[1]) : ""
            else {
                throw Invalid(reason: "the query is not valid percent-encoding: \(piece.prefix(64))")
            }
            pairs.append((name, value))
        }
    }

    /// The single value of `name`, or nil when absent.
    ///
    /// - Throws: `Invalid` when the parameter is repeated: which one was meant is not ours to guess.
    package func value(_ name: String) throws -> String? {
        let values = pairs.filter { $0.name == name }
        if values.count > 1 { throw Invalid(reason: "parameter \(name) is repeated") }
        return values.first?.value
    }

    /// A decimal integer parameter within `range`, or `defaultValue` when absent.
    ///
    /// - Throws: `Invalid` when the value is not plain decimal digits, is outside `range`, or is repeated.
    package func integer(_ name: String, in range: ClosedRange<Int>, default defaultValue: Int) throws -> Int {
        guard let text = try value(name) else { return defaultValue }
        // Only ASCII digits: no sign, no spaces, no "0x"; Int(_:) alone would take "+5".
        let bounds = "from \(range.lowerBound) to \(range.upperBound)"
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            throw Invalid(reason: "\(name) must be a decimal integer \(bounds), not \"\(text.prefix(32))\"")
        }
        guard let number = Int(text), range.contains(number) else {
            throw Invalid(reason: "\(name) must be \(bounds), not \(text.prefix(32))")
        }
        return number
    }

    /// A decimal integer parameter within `range`, or nil when absent (checked as `integer`).
    package func optionalInteger(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard try value(name) != nil else { return nil }
        return try integer(name, in: range, default: range.lowerBound)
    }

    /// A parameter that must be one of `allowed`, or `defaultValue` when absent.
    ///
    /// - Throws: `Invalid` when the value is not one of `allowed`, or is repeated.
    package func choice(_ name: String, of allowed: [String], default defaultValue: String) throws -> String {
        guard let text = try value(name) else { return defaultValue }
        guard allowed.contains(text) else {
            throw Invalid(reason: "\(name) must be \(allowed.joined(separator: ", ")), not \"\(text.prefix(32))\"")
        }
        return text
    }

    /// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; the bytes must
    /// be UTF-8. Nil on a truncated or non-hex escape, or invalid UTF-8.
    package static func percentDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
