/// A protocol buffer wire reader over one message (a range of a shared byte array) that never
/// traps on malformed input: truncated varints, lengths past the end, field number 0 and group
/// or unknown wire types all throw a `PprofDecodingError` naming the byte offset.
///
/// ```swift
/// var reader = ProtobufReader(bytes)
/// while let field = try reader.next() {
///     if field.number == PprofTag.profileTimeNanos { timeNanos = try field.int64() }
/// }
/// ```
struct ProtobufReader {
    /// One field as it appears on the wire. Nested messages and packed arrays stay undecoded
    /// (`bytes` is a range of the same array) until the caller knows what they are.
    struct Field {
        enum Value {
            case varint(UInt64)
            case fixed64(UInt64)
            case fixed32(UInt32)
            case bytes(Range<Int>)
        }

        let number: Int
        let value: Value
        /// Where the field's key starts, for error messages.
        let offset: Int
        /// The whole input, so that `message()` and `packed…()` can read a range of it.
        fileprivate let storage: [UInt8]

        func uint64() throws -> UInt64 {
            guard case .varint(let value) = value else { throw mismatch("a varint") }
            return value
        }

        func int64() throws -> Int64 {
            Int64(bitPattern: try uint64())
        }

        func bool() throws -> Bool {
            try uint64() != 0
        }

        func message() throws -> ProtobufReader {
            guard case .bytes(let range) = value else { throw mismatch("a length-delimited message") }
            return ProtobufReader(storage, range: range)
        }

        func string() throws -> String {
            guard case .bytes(let range) = value else { throw mismatch("a length-delimited string") }
            // Invalid UTF-8 is repaired rather than rejected, as Go's pprof accepts any bytes.
            return String(decoding: storage[range], as: UTF8.self)
        }

        /// A repeated integer field in either form: packed (length-delimited) or one varint.
        func packedUInt64s() throws -> [UInt64] {
            switch value {
            case .varint(let value):
                return [value]
            case .bytes(let range):
                var reader = ProtobufReader(storage, range: range)
                var values: [UInt64] = []
                while !reader.isAtEnd {
                    values.append(try reader.varint())
                }
                return values
            case .fixed32, .fixed64:
                throw mismatch("a varint or a packed array")
            }
        }

        func packedInt64s() throws -> [Int64] {
            try packedUInt64s().map { Int64(bitPattern: $0) }
        }

        private func mismatch(_ expected: String) -> PprofDecodingError {
            PprofDecodingError("field \(number) at byte \(offset) has the wrong wire type (expected \(expected))")
        }
    }

    private let storage: [UInt8]
    private var position: Int
    private let end: Int

    init(_ bytes: [UInt8]) {
        self.init(bytes, range: bytes.startIndex..<bytes.endIndex)
    }

    init(_ bytes: [UInt8], range: Range<Int>) {
        storage = bytes
        position = range.lowerBound
        end = range.upperBound
    }

    var isAtEnd: Bool { position >= end }

    /// The next field, or nil at the end of the message.
    mutating func next() throws -> Field? {
        guard !isAtEnd else { return nil }
        let offset = position
        let key = try varint()
        guard key >> 3 != 0, key >> 3 <= 0x1FFF_FFFF else {
            throw PprofDecodingError("invalid field number \(key >> 3) at byte \(offset)")
        }
        let number = Int(key >> 3)
        let value: Field.Value
        switch key & 7 {
        case 0:
            value = .varint(try varint())
        case 1:
            value = .fixed64(try fixed(8, from: offset))
        case 2:
            let length = try varint()
            guard length <= UInt64(end - position) else {
                throw PprofDecodingError(
                    "field \(number) at byte \(offset) claims \(length) bytes; \(end - position) remain"
                )
            }
            value = .bytes(position..<position + Int(length))
            position += Int(length)
        case 5:
            value = .fixed32(UInt32(truncatingIfNeeded: try fixed(4, from: offset)))
        default:
            throw PprofDecodingError("unsupported wire type \(key & 7) for field \(number) at byte \(offset)")
        }
        return Field(number: number, value: value, offset: offset, storage: storage)
    }

    /// A base-128 varint of at most ten bytes whose value fits in 64 bits.
    mutating func varint() throws -> UInt64 {
        let start = position
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw PprofDecodingError("truncated varint at byte \(start)") }
            let byte = storage[position]
            position += 1
            if shift == 63 && byte > 1 {
                throw PprofDecodingError("varint at byte \(start) overflows 64 bits")
            }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    private mutating func fixed(_ size: Int, from offset: Int) throws -> UInt64 {
        guard end - position >= size else {
            throw PprofDecodingError("truncated \(size * 8)-bit field at byte \(offset)")
        }
        var result: UInt64 = 0
        for index in 0..<size {
            result |= UInt64(storage[position + index]) << (8 * UInt64(index))
        }
        position += size
        return result
    }
}
