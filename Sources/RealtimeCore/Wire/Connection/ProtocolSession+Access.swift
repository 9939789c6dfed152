/// Authorization over the protocol (`docs/security.md`, "Authorization"): every channel and
/// document request is checked against the core's `Access` before anything else looks at the
/// channel or document, and every refusal is the same `forbidden` "not allowed", so a client
/// learns nothing of what exists, who is a member, or which rule refused it.
extension ProtocolSession {
  /// The one refusal: identical for a channel or document that exists and one that does not.
  static let denied = RealtimeError(.forbidden, "not allowed")

  /// The action a client message asks for, nil for those that need none (`unsubscribe`).
  static func accessAction(for type: MessageType) -> AccessAction? {
    switch type {
    case .subscribe, .receipt: .subscribe
    case .publish: .publish
    case .history: .history
    case .presence, .presenceList, .typing: .presence
    case .docSync, .chunkGet: .docRead
    case .docUpdate, .chunk: .docWrite
    default: nil
    }
  }

  /// The user this session acts as (nil: anonymous).
  private var accessUser: String? { socket?.identity?.user }

  /// Refuses a request its user may not make on `name` with `denied`.
  func authorize(_ type: MessageType, _ name: String) throws(RealtimeError) {
    guard let access = settings.access, let action = Self.accessAction(for: type) else { return }
    guard access.allows(accessUser, action, on: name) else { throw Self.denied }
  }

  /// Whether the session may see and be in `channel`'s presence.
  func mayUsePresence(_ channel: String) -> Bool {
    settings.access?.allows(accessUser, .presence, on: channel) ?? true
  }

  /// Whether the session may read `channel`'s history, which a recovery replays.
  func mayReadHistory(_ channel: String) -> Bool {
    settings.access?.allows(accessUser, .history, on: channel) ?? true
  }

  /// Whether a channel event reaches this client: presence diffs and typing only with the right
  /// to presence (a guest may be let subscribe but not see who is there).
  func mayReceive(_ event: ChannelEvent) -> Bool {
    guard let access = settings.access, event.envelope.type == .presence || event.envelope.type == .typing,
      let channel = event.envelope.channel
    else { return true }
    return access.allows(accessUser, .presence, on: channel)
  }

  /// Checks again what the session holds, after a role or rule changed: ends each subscription
  /// it may no longer hold (`unsubscribed`, as a server-side unsubscribe), takes it out of
  /// presence it may no longer use, and stops syncing each document it may no longer read (an
  /// `error` `forbidden` naming the document). Loop thread.
  func reviewAccess() {
    guard let access = settings.access, let socket, state == .connected else { return }
    let user = accessUser
    for channel in subscriptions.sorted() {
      if !access.allows(user, .subscribe, on: channel) {
        serverUnsubscribe(channel)
      } else if !access.allows(user, .presence, on: channel) {
        leavePresence(channel)
      }
    }
    for id in syncedDocuments.keys.sorted() where !access.allows(user, .docRead, on: id) {
      guard let doc = syncedDocuments.removeValue(forKey: id) else { continue }
      documents?.removeClient(self, of: id)
      documents?.close(doc)
      var refusal = ProtocolSession.error(ProtocolFault(.forbidden, Self.denied.message))
      refusal.doc = id
      send(refusal, to: socket, as: encoding)
    }
  }
}
