/// Document sync over the protocol (`docs/protocol.md`, "Documents"): `doc_sync` opens the
/// document for the session and answers with what the client lacks (`doc_update`) and the
/// server's own state vector (`doc_sync`), so the client can send what the server lacks; from
/// then on every change of the document reaches the client as `doc_update`, and the client's
/// `doc_update`s are applied, persisted and passed on to the document's other clients.
extension ProtocolSession: DocumentClient {
  /// Documents one session may sync at once.
  static let maxSyncedDocuments = 64

  func handleDocument(_ envelope: Envelope, _ session: WebSocketSession, _ encoding: EnvelopeEncoding)
    throws(ProtocolFault)
  {
    guard let documents else { throw ProtocolFault(.notFound, "this endpoint serves no documents", id: envelope.id) }
    guard let id = envelope.doc else {
      throw ProtocolFault(.badRequest, "\(envelope.type.name) needs a doc", id: envelope.id)
    }
    do throws(RealtimeError) {
      try authorize(envelope.type, id)
      switch envelope.type {
      case .docSync:
        let doc = try open(id, kind: envelope.kind, documents)
        var seen = VersionVector()
        if let data = envelope.data, !data.isEmpty { seen = try VersionVector(decoding: Array(data)) }
        var reply = Envelope(.docUpdate, id: envelope.id)
        reply.doc = id
        reply.data = ArraySlice(doc.diff(since: seen))
        send(reply, to: session, as: encoding)
        var ask = Envelope(.docSync)
        ask.doc = id
        ask.kind = Self.name(of: doc.kind)
        ask.data = ArraySlice(doc.stateVector.encoded())
        send(ask, to: session, as: encoding)
      case .docUpdate:
        guard let doc = syncedDocuments[id] else {
          throw RealtimeError(.state, "send doc_sync for '\(id)' before its updates")
        }
        guard let data = envelope.data, !data.isEmpty else {
          throw RealtimeError(.invalidArgument, "doc_update needs data (the update)")
        }
        if doc.kind == .file {
          try doc.applyFileUpdate(Array(data), origin: self.id)
        } else {
          try doc.apply(Array(data), origin: self.id)
        }
        if let request = envelope.id {
          var ack = Envelope(.ack, id: request)
          ack.doc = id
          send(ack, to: session, as: encoding)
        }
      case .chunk:
        try receiveChunk(envelope, id, session, encoding)
      case .chunkGet:
        try sendChunk(envelope, id, session, encoding)
      default:
        throw RealtimeError(.internal, "unhandled message type \(envelope.type.name)")
      }
    } catch {
      // A malformed update or an update out of turn is the client's mistake, not the server's.
      let code = error.code == .corrupt || error.code == .state ? .badRequest : ProtocolErrorCode(error.code)
      throw ProtocolFault(code, error.message, id: envelope.id)
    }
  }

  private static func name(of kind: DocumentKind) -> String {
    switch kind {
    case .text: "text"
    case .tasks: "tasks"
    case .file: "file"
    }
  }

  private func open(_ id: String, kind name: String?, _ documents: DocumentHub) throws(RealtimeError)
    -> SharedDocument
  {
    let kind: DocumentKind
    switch name ?? "text" {
    case "text": kind = .text
    case "tasks": kind = .tasks
    case "file": kind = .file
    default: throw RealtimeError(.invalidArgument, "unknown document kind '\(name ?? "")' (text, tasks or file)")
    }
    // Again: the kind, when named, must be the document's (an unnamed one is the one synced).
    if let doc = syncedDocuments[id] {
      guard name == nil || doc.kind == kind else {
        throw RealtimeError(
          .invalidArgument, "document '\(id)' is a \(Self.name(of: doc.kind)) document, not \(name ?? "text")")
      }
      return doc
    }
    guard syncedDocuments.count < Self.maxSyncedDocuments else {
      throw RealtimeError(.noMemory, "a session syncs at most \(Self.maxSyncedDocuments) documents")
    }
    let doc = try documents.open(id, kind: kind)
    syncedDocuments[id] = doc
    documents.addClient(self, of: id)
    return doc
  }

  /// The file document `id` this session syncs, and the chunk `envelope` names.
  private func fileAndChunk(_ envelope: Envelope, _ id: String) throws(RealtimeError) -> (SharedDocument, ChunkHash) {
    guard let doc = syncedDocuments[id], doc.kind == .file else {
      throw RealtimeError(.state, "send doc_sync for file '\(id)' before its chunks")
    }
    guard let key = envelope.key, let hash = ChunkHash(hex: key) else {
      throw RealtimeError(.invalidArgument, "\(envelope.type.name) needs a key: the chunk's hash as 64 hex digits")
    }
    return (doc, hash)
  }

  /// `chunk` from the client: stores the chunk (checked against its hash) and acks.
  private func receiveChunk(
    _ envelope: Envelope, _ id: String, _ session: WebSocketSession, _ encoding: EnvelopeEncoding
  )
    throws(RealtimeError)
  {
    let (doc, hash) = try fileAndChunk(envelope, id)
    guard let chunks = doc.chunks else { throw RealtimeError(.internal, "file '\(id)' has no chunk store") }
    try chunks.put(Array(envelope.data ?? []), as: hash)
    if let request = envelope.id {
      var ack = Envelope(.ack, id: request)
      ack.doc = id
      ack.key = envelope.key
      send(ack, to: session, as: encoding)
    }
  }

  /// `chunk_get`: sends the chunk, if it belongs to a version of the file; a chunk of another
  /// file is as unknown as one that does not exist.
  private func sendChunk(_ envelope: Envelope, _ id: String, _ session: WebSocketSession, _ encoding: EnvelopeEncoding)
    throws(RealtimeError)
  {
    let (doc, hash) = try fileAndChunk(envelope, id)
    guard doc.holdsChunk(hash), let data = try doc.chunks?.chunk(hash) else {
      throw RealtimeError(.notFound, "file '\(id)' has no chunk \(hash.hex) here")
    }
    var reply = Envelope(.chunk, id: envelope.id)
    reply.doc = id
    reply.key = hash.hex
    reply.data = ArraySlice(data)
    send(reply, to: session, as: encoding)
  }

  /// Releases the session's documents (at its end).
  func endDocumentSync() {
    guard let documents else { return }
    for (id, doc) in syncedDocuments {
      documents.removeClient(self, of: id)
      documents.close(doc)
    }
    syncedDocuments = [:]
  }

  func deliverDocumentUpdate(_ id: String, _ update: ArraySlice<UInt8>) {
    guard let socket else { return }
    var message = Envelope(.docUpdate)
    message.doc = id
    message.data = update
    send(message, to: socket, as: encoding)
  }
}
