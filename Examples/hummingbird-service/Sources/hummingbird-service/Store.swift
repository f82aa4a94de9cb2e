import Pprof

/// A user of the API.
struct User: Codable, Sendable {
    var id: Int
    var name: String
    var email: String
    var tags: [String]
}

/// What `POST /users` takes.
struct NewUser: Codable, Sendable {
    var name: String
    var email: String
    var tags: [String]
}

/// The users by id, and an index from tag to ids.
struct Users {
    private(set) var byID: [Int: User] = [:]
    private(set) var byTag: [String: Set<Int>] = [:]
    private var nextID = 1

    mutating func insert(_ new: NewUser) -> User {
        let user = User(id: nextID, name: new.name, email: new.email, tags: new.tags)
        nextID += 1
        byID[user.id] = user
        for tag in user.tags { byTag[tag, default: []].insert(user.id) }
        return user
    }
}

/// The in-memory store.
actor UserStore {
    private var users = Users()

    static let seedTags = ["swift", "server", "linux", "profiling", "nio", "tracing", "http", "json"]

    /// A store with `count` users, each with two or three of `seedTags`.
    init(seeded count: Int) {
        var users = Users()
        for i in 0..<count {
            let tags = (0..<(2 + i % 2)).map { Self.seedTags[(i * 7 + $0 * 3) % Self.seedTags.count] }
            _ = users.insert(NewUser(name: "user \(i)", email: "user\(i)@example.com", tags: Array(Set(tags)).sorted()))
        }
        self.users = users
    }

    func user(_ id: Int) -> User? {
        users.byID[id]
    }

    func insert(_ new: NewUser) -> User {
        users.insert(new)
    }

    /// The users with `tag`, in id order.
    func users(taggedWith tag: String) -> [User] {
        guard let ids = users.byTag[tag] else { return [] }
        return ids.sorted().compactMap { users.byID[$0] }
    }
}

/// A little CPU work a real handler would do: a checksum of a record (FNV-1a over its fields,
/// a few rounds), in a scope of its own.
func fingerprint(_ user: User, rounds: Int = 64) -> UInt64 {
    Trace.scope("fingerprint") {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for round in 0..<rounds {
            for byte in user.name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            for byte in user.email.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            hash ^= UInt64(round)
        }
        return hash
    }
}
