// Replaced by Profile+Write.swift.
extension Profile {
    public func write(to path: String) throws {}
}
