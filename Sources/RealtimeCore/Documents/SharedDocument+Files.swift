/// A file document's content in the core: chunks kept in the core's chunk repository, the
/// manifest in the document. Any thread.
extension SharedDocument {
  private func repository() throws(RealtimeError) -> ChunkRepository {
    guard let chunks else { throw RealtimeError(.state, "document '\(id)' is not kept by a core") }
    return chunks
  }

  /// Replaces the file's content with `data`: its chunks are stored (those already stored are
  /// not stored again) and the new manifest waits in the open transaction until `commit`.
  /// Throws `.invalidArgument` for a document of another kind, `.tooLarge` past the limits.
  public func writeFile(_ data: UnsafeRawBufferPointer) throws(RealtimeError) {
    guard kind == .file else { throw RealtimeError(.invalidArgument, "document '\(id)' is not a file") }
    let chunks = try repository()
    try chunks.gate.shared { () throws(RealtimeError) in
      let manifest = try chunks.add(data)
      try withFile { file throws(RealtimeError) in try file.replace(with: manifest) }
    }
  }

  /// Version `index` of the file's content (0: the current one, then the conflict copies,
  /// newest first). Throws `.notFound` when there is no such version or one of its chunks is
  /// not here yet (`missingChunks` lists them).
  public func readFile(version index: Int = 0) throws(RealtimeError) -> [UInt8] {
    let versions = try withFile { $0.versions }
    guard index >= 0, index < versions.count else {
      throw RealtimeError(.notFound, "file '\(id)' has \(versions.count) versions; there is no version \(index)")
    }
    return try repository().assemble(versions[index])
  }

  /// The chunks of the file's versions that are not stored here, each once: what to fetch
  /// from a peer (`chunk_get`, `rt_chunk_get`) and store (`putChunk`).
  public func missingChunks() throws(RealtimeError) -> [ChunkHash] {
    try repository().missing(try withFile { $0.versions })
  }

  /// Whether `hash` is a chunk of one of the file's live versions.
  func holdsChunk(_ hash: ChunkHash) -> Bool {
    (try? withFile { $0.holds(hash) }) ?? false
  }

  /// Applies a file update only once every chunk of the versions it adds is stored here, so
  /// that what the server passes on can always be fetched from it. Throws `.notFound` naming
  /// the first missing chunk, or as `apply`.
  /// An update with nothing new (a stale or repeated state) changes nothing and is neither
  /// stored nor passed on: each would cost 32 bytes per chunk per client.
  func applyFileUpdate(_ update: [UInt8], origin: UInt64) throws(RealtimeError) {
    let (isNew, added) = try withFile { file throws(RealtimeError) in try file.news(in: update) }
    guard isNew else { return }
    let chunks = try repository()
    try chunks.gate.shared { () throws(RealtimeError) in
      if let first = try chunks.missing(added).first {
        throw RealtimeError(.notFound, "chunk \(first.hex) is not stored; send it with chunk before the update")
      }
      try apply(update, origin: origin)
    }
  }
}
