import Synchronization

/// Sealing of stored payloads at rest: channel log entries, document updates and snapshots.
/// Rows are sealed on the writer thread (never the loop thread) with `Sealer` under the
/// keyring's current key, and opened where they are read. A row's `key_id` column says how its
/// payload is stored, because a plaintext payload can start with any byte.
///
/// What each row binds (the associated data of `Sealer`):
/// - a channel entry: purpose `.channel`, name = the log stream's name, position = its seq;
/// - a document update: purpose `.document`, name = the document id, position = its seq;
/// - a snapshot: purpose `.document`, name = the document id, position = its snapshot seq,
///   extra = "snapshot", so an update and a snapshot can never be swapped;
/// - a file chunk: purpose `.document`, name = "rt_chunks" (one subkey for every chunk, not one
///   per hash), position 0, extra = its 32-byte hash, so a chunk moved under another hash fails.
enum AtRest {
  /// `key_id` of a payload stored as it came: written before sealing was on, or without keys.
  static let plaintext: Int64 = 0
  /// `key_id` of an end-to-end payload: sealed by the client, stored and returned untouched.
  static let endToEnd: Int64 = -1
  /// Rows re-sealed per writer batch by `reseal`: small enough that a batch holds the writer
  /// (and so publishing) for milliseconds, not seconds.
  static let resealBatchRows = 256

  /// The extra associated data of a snapshot.
  static let snapshotExtra: [UInt8] = Array("snapshot".utf8)
  /// The name every chunk is sealed under (no document id is longer than 256 bytes or may
  /// contain this, so it never collides with a document's subkey either way: the purpose and the
  /// extra differ too).
  static let chunkName = "rt_chunks"

  /// What a row is sealed for.
  struct Place {
    let purpose: SealPurpose
    let name: String
    let position: Int64
    var extra: [UInt8] = []

    /// A channel log entry.
    static func entry(_ stream: String, _ seq: Int64) -> Place { Place(purpose: .channel, name: stream, position: seq) }
    /// A document update.
    static func update(_ doc: String, _ seq: Int64) -> Place { Place(purpose: .document, name: doc, position: seq) }
    /// A document snapshot.
    static func snapshot(_ doc: String, _ seq: Int64) -> Place {
      Place(purpose: .document, name: doc, position: seq, extra: AtRest.snapshotExtra)
    }

    /// A file chunk under its hash.
    static func chunk(_ hash: [UInt8]) -> Place {
      Place(purpose: .document, name: AtRest.chunkName, position: 0, extra: hash)
    }

    /// Says which row, for error messages.
    var label: String {
      if name == AtRest.chunkName, purpose == .document {
        return "chunk \(extra.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())"
      }
      return switch purpose {
      case .channel: "entry \(position) of log '\(name)'"
      case .document where extra.isEmpty: "update \(position) of document '\(name)'"
      case .document: "the snapshot (through \(position)) of document '\(name)'"
      case .host: "'\(name)'"
      }
    }
  }

  /// Seals `payload` for `place` under the current key when there is one: the bytes to store
  /// and their `key_id`. Without a key the payload is stored plain, unless `store` already holds
  /// sealed rows: then it throws `.state` rather than mix plaintext in (no silent downgrade).
  static func seal(_ payload: [UInt8], for place: Place, keys: AtRestKeys) throws(RealtimeError) -> ([UInt8], Int64) {
    guard let current = keys.keyring.currentID else {
      try keys.checkMayStorePlaintext()
      return (payload, plaintext)
    }
    var out: [UInt8] = []
    out.reserveCapacity(payload.count + Sealer.overhead)
    let result = place.extra.withUnsafeBytes { extra in
      payload.withUnsafeBytes { plain in
        Result { () throws(RealtimeError) in
          try Sealer.seal(
            plain, purpose: place.purpose, name: place.name.utf8, position: UInt64(bitPattern: place.position),
            extra: extra, keyring: keys.keyring, into: &out)
        }
      }
    }
    if case .failure(let error) = result { throw error }
    return (out, Int64(current))
  }

  /// The payload of a row stored as `stored` with `keyID`, for `place`. Throws, returning
  /// nothing: `.corrupt` when it does not open (tampered with, moved from another row, or its
  /// `key_id` disagrees with the key id it carries), `.notFound` when its key is not held.
  static func open(_ stored: [UInt8], keyID: Int64, for place: Place, keyring: Keyring) throws(RealtimeError)
    -> [UInt8]
  {
    if keyID == plaintext || keyID == endToEnd { return stored }
    guard keyID > 0, keyID <= Int64(UInt32.max) else {
      throw RealtimeError(.corrupt, "\(place.label) has key id \(keyID), which no key has; the database is damaged")
    }
    let carried =
      stored.count >= 5
      ? UInt32(stored[1]) | UInt32(stored[2]) << 8 | UInt32(stored[3]) << 16 | UInt32(stored[4]) << 24 : 0
    guard carried == UInt32(keyID) else {
      throw RealtimeError(
        .corrupt,
        "\(place.label) is recorded as sealed with key \(keyID) but carries key \(carried); the database is damaged")
    }
    var out: [UInt8] = []
    let result = place.extra.withUnsafeBytes { extra in
      stored.withUnsafeBytes { sealed in
        Result { () throws(RealtimeError) in
          try Sealer.open(
            sealed, purpose: place.purpose, name: place.name.utf8, position: UInt64(bitPattern: place.position),
            extra: extra, keyring: keyring, into: &out)
        }
      }
    }
    if case .failure(let error) = result {
      switch error.code {
      case .notFound:
        throw RealtimeError(
          .notFound, "\(place.label) is sealed with key \(keyID), which is not loaded; add that key to read it")
      case .corrupt, .version, .tooLarge:
        throw RealtimeError(
          .corrupt, "\(place.label) does not open: tampered with, or moved from another row (\(error.message))")
      default:
        throw error
      }
    }
    return out
  }
}

/// The keys a store seals with and whether its database holds sealed rows, shared by the loop
/// thread (to refuse early), the writer thread (which seals) and readers (which open).
final class AtRestKeys: Sendable {
  /// The core's keyring; its current key seals new rows.
  let keyring: Keyring
  /// Set once any sealed row is stored (rt_meta 'sealed'); never cleared.
  let holdsSealedRows: Atomic<Bool>

  init(keyring: Keyring, holdsSealedRows: Bool) {
    self.keyring = keyring
    self.holdsSealedRows = Atomic(holdsSealedRows)
  }

  /// Throws `.state` when the database holds sealed rows and no key is current: storing
  /// plaintext beside them would silently downgrade what the operator turned on.
  func checkMayStorePlaintext() throws(RealtimeError) {
    guard holdsSealedRows.load(ordering: .relaxed), keyring.currentID == nil else { return }
    throw RealtimeError(
      .state,
      "this database holds payloads sealed at rest but no key is loaded; load the keys (key file, environment or rt_key_add) before storing anything"
    )
  }
}
