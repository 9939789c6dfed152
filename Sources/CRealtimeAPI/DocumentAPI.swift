import CRealtimeHeader
import RealtimeCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// What an `rt_doc *` points to: one hold on a shared document, and this handle's callback.
final class DocHandle: @unchecked Sendable {
  let core: Core
  let document: SharedDocument
  var observer: UInt64?
  init(core: Core, document: SharedDocument) {
    self.core = core
    self.document = document
  }
  var corePointer: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(core).toOpaque()) }
}

func handle(_ doc: OpaquePointer) -> DocHandle {
  Unmanaged<DocHandle>.fromOpaque(UnsafeRawPointer(doc)).takeUnretainedValue()
}

/// Copies `bytes` into a malloc'd buffer, NUL-terminated beyond `len` (text is read as a C
/// string; binary callers ignore the extra byte).
func makeBytes(_ bytes: [UInt8]) -> rt_bytes? {
  guard let data = malloc(bytes.count + 1)?.assumingMemoryBound(to: UInt8.self) else { return nil }
  bytes.withUnsafeBufferPointer { if let base = $0.baseAddress { data.update(from: base, count: $0.count) } }
  data[bytes.count] = 0
  return rt_bytes(data: data, len: bytes.count)
}

/// What the calls that fill an `rt_bytes` share: `*out` emptied first, the NULL checks, and the
/// bytes `body` returns copied out.
func bytesOut(
  _ doc: OpaquePointer?, _ out: UnsafeMutablePointer<rt_bytes>?, _ body: (DocHandle) throws(RealtimeError) -> [UInt8]
) -> rt_status {
  out?.pointee = rt_bytes(data: nil, len: 0)
  guard let doc else { return fail(nil, .invalidArgument, "doc is NULL") }
  let h = handle(doc)
  guard let out else { return fail(h.corePointer, .invalidArgument, "out is NULL") }
  return status(h.corePointer) { () throws(RealtimeError) in try output(try body(h), out) }
}

func output(_ bytes: [UInt8], _ out: UnsafeMutablePointer<rt_bytes>) throws(RealtimeError) {
  guard let made = makeBytes(bytes) else { throw RealtimeError(.noMemory, "no memory for \(bytes.count) bytes") }
  out.pointee = made
}

private func utf8(_ raw: UnsafePointer<CChar>?, _ length: Int, _ name: String) throws(RealtimeError) -> String {
  // size_t arrives as Int: a length past Int.max is negative here.
  guard length >= 0 else {
    throw RealtimeError(.invalidArgument, "\(name) length \(UInt(bitPattern: length)) is too large")
  }
  guard length > 0 else { return "" }
  guard let raw else { throw RealtimeError(.invalidArgument, "\(name) is NULL") }
  let bytes = UnsafeRawPointer(raw).bindMemory(to: UInt8.self, capacity: length)
  guard let s = String(validating: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self) else {
    throw RealtimeError(.invalidArgument, "\(name) is not UTF-8")
  }
  return s
}

private func position(_ value: UInt64) -> Int { Int(clamping: value) }

@c @implementation public func rt_doc_open(
  _ coreHandle: OpaquePointer?, _ id: UnsafePointer<CChar>?, _ kind: Int32,
  _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> rt_status {
  out?.pointee = nil
  guard let coreHandle else { return fail(nil, .invalidArgument, "core is NULL") }
  guard let out else { return fail(coreHandle, .invalidArgument, "out is NULL") }
  return status(coreHandle) { () throws(RealtimeError) in
    guard let kind = DocumentKind(rawValue: Int(kind)) else {
      throw RealtimeError(.invalidArgument, "unknown document kind \(kind)")
    }
    let owner = core(coreHandle)
    let document = try owner.openDocument(try text(id, "id"), kind: kind)
    out.pointee = OpaquePointer(Unmanaged.passRetained(DocHandle(core: owner, document: document)).toOpaque())
  }
}

@c @implementation public func rt_doc_close(_ doc: UnsafeMutablePointer<OpaquePointer?>?) -> rt_status {
  guard let doc, let opened = doc.pointee else { return RT_OK }
  let retained = Unmanaged<DocHandle>.fromOpaque(UnsafeRawPointer(opened))
  let value = retained.takeUnretainedValue()
  if let token = value.observer { value.document.removeObserver(token) }
  value.core.closeDocument(value.document)
  retained.release()
  doc.pointee = nil
  return RT_OK
}

@c @implementation public func rt_doc_text_insert(
  _ doc: OpaquePointer?, _ pos: UInt64, _ text: UnsafePointer<CChar>?, _ length: Int, _ flags: UInt32
) -> rt_status {
  guard let doc else { return fail(nil, .invalidArgument, "doc is NULL") }
  let h = handle(doc)
  return status(h.corePointer) { () throws(RealtimeError) in
    let inserted = try utf8(text, length, "text")
    try h.document.withText { t throws(RealtimeError) in
      if flags & RT_DOC_UTF16 != 0 {
        try t.insert(inserted, atUTF16: position(pos))
      } else {
        try t.insert(inserted, at: position(pos))
      }
    }
  }
}

@c @implementation public func rt_doc_text_delete(
  _ doc: OpaquePointer?, _ pos: UInt64, _ length: UInt64, _ flags: UInt32
) -> rt_status {
  guard let doc else { return fail(nil, .invalidArgument, "doc is NULL") }
  let h = handle(doc)
  return status(h.corePointer) { () throws(RealtimeError) in
    try h.document.withText { t throws(RealtimeError) in
      if flags & RT_DOC_UTF16 != 0 {
        t.delete(atUTF16: position(pos), length: position(length))
      } else {
        t.delete(at: position(pos), length: position(length))
      }
    }
  }
}

@c @implementation public func rt_doc_text_edits(
  _ doc: OpaquePointer?, _ edits: UnsafePointer<rt_text_edit>?, _ count: Int, _ flags: UInt32, _ fn: rt_update_fn?,
  _ userData: UnsafeMutableRawPointer?
) -> rt_status {
  guard let doc else { return fail(nil, .invalidArgument, "doc is NULL") }
  let h = handle(doc)
  return status(h.corePointer) { () throws(RealtimeError) in
    guard count >= 0, count == 0 || edits != nil else { throw RealtimeError(.invalidArgument, "edits is NULL") }
    guard let edits else { return }
    let utf16 = flags & RT_DOC_UTF16 != 0
    try h.document.withTextTransactions { t, commit throws(RealtimeError) in
      for i in 0..<count {
        let edit = edits[i]
        // The insert is checked first, so a bad edit changes nothing.
        let inserted = try utf8(edit.insert, edit.insert_len, "insert")
        if edit.delete_len > 0 {
          if utf16 {
            t.delete(atUTF16: position(edit.pos), length: position(edit.delete_len))
          } else {
            t.delete(at: position(edit.pos), length: position(edit.delete_len))
          }
        }
        if !inserted.isEmpty {
          if utf16 {
            try t.insert(inserted, atUTF16: position(edit.pos))
          } else {
            try t.insert(inserted, at: position(edit.pos))
          }
        }
        if edit.commit != 0 {
          _ = commit { update in fn?(userData, update.baseAddress, update.count) }
        }
      }
    }
  }
}

@c @implementation public func rt_doc_text_get(_ doc: OpaquePointer?, _ out: UnsafeMutablePointer<rt_bytes>?)
  -> rt_status
{
  bytesOut(doc, out) { h throws(RealtimeError) in
    Array(try h.document.withText { t throws(RealtimeError) in t.text }.utf8)
  }
}

@c @implementation public func rt_doc_text_length(
  _ doc: OpaquePointer?, _ scalars: UnsafeMutablePointer<UInt64>?, _ utf16: UnsafeMutablePointer<UInt64>?
) -> rt_status {
  scalars?.pointee = 0
  utf16?.pointee = 0
  guard let doc else { return fail(nil, .invalidArgument, "doc is NULL") }
  let h = handle(doc)
  return status(h.corePointer) { () throws(RealtimeError) in
    let counts = try h.document.withText { t throws(RealtimeError) in (t.count, t.utf16Count) }
    scalars?.pointee = UInt64(counts.0)
    utf16?.pointee = UInt64(counts.1)
  }
}

@c @implementation public func rt_doc_commit(_ doc: OpaquePointer?, _ out: UnsafeMutablePointer<rt_bytes>?)
  -> rt_status
{
  out?.pointee = rt_bytes(data: nil, len: 0)
  guard let doc else { return fail(nil, .invalidArgument, "doc is NULL") }
  let h = handle(doc)
  return status(h.corePointer) { () throws(RealtimeError) in
    guard let update = h.document.commit(), let out else { return }
    try output(update, out)
  }
}

@c @implementation public func rt_doc_state_vector(_ doc: OpaquePointer?, _ out: UnsafeMutablePointer<rt_bytes>?)
  -> rt_status
{ bytesOut(doc, out) { h in h.document.stateVector.encoded() } }

@c @implementation public func rt_doc_diff(
  _ doc: OpaquePointer?, _ since: UnsafePointer<UInt8>?, _ sinceLength: Int, _ out: UnsafeMutablePointer<rt_bytes>?
) -> rt_status {
  bytesOut(doc, out) { h throws(RealtimeError) in
    guard sinceLength >= 0, sinceLength == 0 || since != nil else {
      throw RealtimeError(.invalidArgument, "since is NULL")
    }
    let seen =
      sinceLength == 0
      ? VersionVector() : try VersionVector(decoding: Array(UnsafeBufferPointer(start: since, count: sinceLength)))
    return h.document.diff(since: seen)
  }
}

@c @implementation public func rt_doc_apply(_ doc: OpaquePointer?, _ update: UnsafePointer<UInt8>?, _ length: Int)
  -> rt_status
{
  guard let doc else { return fail(nil, .invalidArgument, "doc is NULL") }
  let h = handle(doc)
  return status(h.corePointer) { () throws(RealtimeError) in
    guard length > 0, let update else { throw RealtimeError(.invalidArgument, "update is NULL or empty") }
    // Bounded before copying.
    guard length <= 16 << 20 else { throw RealtimeError(.tooLarge, "an update of \(length) bytes exceeds 16 MiB") }
    try h.document.apply(Array(UnsafeBufferPointer(start: update, count: length)))
  }
}

@c @implementation public func rt_doc_snapshot(_ doc: OpaquePointer?, _ out: UnsafeMutablePointer<rt_bytes>?)
  -> rt_status
{ bytesOut(doc, out) { h in h.document.snapshot() } }

/// A C change callback with its user data.
private struct ChangeCallback: @unchecked Sendable {
  let fn: rt_doc_change_fn
  let userData: UnsafeMutableRawPointer?
}

@c @implementation public func rt_doc_on_change(
  _ doc: OpaquePointer?, _ fn: rt_doc_change_fn?, _ userData: UnsafeMutableRawPointer?
) -> rt_status {
  guard let doc else { return fail(nil, .invalidArgument, "doc is NULL") }
  let h = handle(doc)
  if let token = h.observer { h.document.removeObserver(token) }
  h.observer = nil
  guard let fn else { return RT_OK }
  let callback = ChangeCallback(fn: fn, userData: userData)
  h.observer = h.document.addObserver { change in
    change.document.withCString { id in
      change.update.withUnsafeBufferPointer {
        callback.fn(callback.userData, id, $0.baseAddress, $0.count, change.local ? 1 : 0)
      }
    }
  }
  return RT_OK
}

// MARK: Task lists

private func taskField(_ field: Int32, _ value: UnsafePointer<UInt8>?, _ length: Int) throws(RealtimeError)
  -> TaskRecord.Field
{
  guard length >= 0, length <= TaskRecord.maxStringBytes else {
    throw RealtimeError(.invalidArgument, "a task field value is at most \(TaskRecord.maxStringBytes) bytes")
  }
  guard length == 0 || value != nil else { throw RealtimeError(.invalidArgument, "value is NULL") }
  let bytes = length == 0 ? [] : Array(UnsafeBufferPointer(start: value, count: length))
  func text() throws(RealtimeError) -> String {
    guard let s = String(validating: bytes, as: UTF8.self) else {
      throw RealtimeError(.invalidArgument, "value is not UTF-8")
    }
    return s
  }
  func integer() throws(RealtimeError) -> Int64 {
    guard let n = Int64(try text()) else { throw RealtimeError(.invalidArgument, "value is not a decimal integer") }
    return n
  }
  switch field {
  case RT_TASK_TITLE: return .title(try text())
  case RT_TASK_DESCRIPTION: return .description(try text())
  case RT_TASK_STATUS: return .status(try text())
  case RT_TASK_CATEGORY: return .category(try text())
  case RT_TASK_PRIORITY: return .priority(try integer())
  case RT_TASK_DUE: return .dueDate(bytes.isEmpty ? nil : try integer())
  case RT_TASK_POSITION: return .position(bytes)
  case RT_TASK_DELETED:
    switch try text() {
    case "1": return .deleted(true)
    case "0": return .deleted(false)
    default: throw RealtimeError(.invalidArgument, "deleted is \"1\" or \"0\"")
    }
  default: throw RealtimeError(.invalidArgument, "unknown task field \(field)")
  }
}

private func taskSet(_ set: Int32) throws(RealtimeError) -> TaskRecord.SetField {
  switch set {
  case RT_TASK_ASSIGNEES: return .assignees
  case RT_TASK_TAGS: return .tags
  default: throw RealtimeError(.invalidArgument, "unknown task set \(set)")
  }
}

@c @implementation public func rt_doc_task_set(
  _ doc: OpaquePointer?, _ task: UnsafePointer<CChar>?, _ field: Int32, _ value: UnsafePointer<UInt8>?,
  _ length: Int
) -> rt_status {
  guard let doc else { return fail(nil, .invalidArgument, "doc is NULL") }
  let h = handle(doc)
  return status(h.corePointer) { () throws(RealtimeError) in
    let id = try text(task, "task")
    let set = try taskField(field, value, length)
    try h.document.withTasks { tasks throws(RealtimeError) in try tasks.set(set, of: id, wallMs: tasks.now) }
  }
}

private func taskTextField(_ field: Int32) throws(RealtimeError) -> TaskRecord.TextField {
  switch field {
  case RT_TASK_TITLE: return .title
  case RT_TASK_DESCRIPTION: return .description
  default: throw RealtimeError(.invalidArgument, "task field \(field) is not a text field")
  }
}

@c @implementation public func rt_doc_task_text_insert(
  _ doc: OpaquePointer?, _ task: UnsafePointer<CChar>?, _ field: Int32, _ pos: UInt64,
  _ bytes: UnsafePointer<CChar>?, _ length: Int, _ flags: UInt32
) -> rt_status {
  guard let doc else { return fail(nil, .invalidArgument, "doc is NULL") }
  let h = handle(doc)
  return status(h.corePointer) { () throws(RealtimeError) in
    let id = try text(task, "task")
    let which = try taskTextField(field)
    let inserted = try utf8(bytes, length, "text")
    try h.document.withTasks { tasks throws(RealtimeError) in
      if flags & RT_DOC_UTF16 != 0 {
        try tasks.insert(inserted, into: which, of: id, atUTF16: position(pos))
      } else {
        try tasks.insert(inserted, into: which, of: id, at: position(pos))
      }
    }
  }
}

@c @implementation public func rt_doc_task_text_delete(
  _ doc: OpaquePointer?, _ task: UnsafePointer<CChar>?, _ field: Int32, _ pos: UInt64, _ length: UInt64,
  _ flags: UInt32
) -> rt_status {
  guard let doc else { return fail(nil, .invalidArgument, "doc is NULL") }
  let h = handle(doc)
  return status(h.corePointer) { () throws(RealtimeError) in
    let id = try text(task, "task")
    let which = try taskTextField(field)
    try h.document.withTasks { tasks throws(RealtimeError) in
      if flags & RT_DOC_UTF16 != 0 {
        try tasks.delete(from: which, of: id, atUTF16: position(pos), length: position(length))
      } else {
        try tasks.delete(from: which, of: id, at: position(pos), length: position(length))
      }
    }
  }
}

/// Adds `element` to, or removes it from, the set `set` of `task`: what rt_doc_task_add and
/// rt_doc_task_remove share.
private func changeTaskSet(
  _ doc: OpaquePointer?, _ task: UnsafePointer<CChar>?, _ set: Int32, _ element: UnsafePointer<CChar>?, adding: Bool
) -> rt_status {
  guard let doc else { return fail(nil, .invalidArgument, "doc is NULL") }
  let h = handle(doc)
  return status(h.corePointer) { () throws(RealtimeError) in
    let id = try text(task, "task")
    let which = try taskSet(set)
    let value = try text(element, "element")
    try h.document.withTasks { tasks throws(RealtimeError) in
      if adding {
        try tasks.insert(value, into: which, of: id)
      } else {
        try tasks.remove(value, from: which, of: id)
      }
    }
  }
}

@c @implementation public func rt_doc_task_add(
  _ doc: OpaquePointer?, _ task: UnsafePointer<CChar>?, _ set: Int32, _ element: UnsafePointer<CChar>?
) -> rt_status { changeTaskSet(doc, task, set, element, adding: true) }

@c @implementation public func rt_doc_task_remove(
  _ doc: OpaquePointer?, _ task: UnsafePointer<CChar>?, _ set: Int32, _ element: UnsafePointer<CChar>?
) -> rt_status { changeTaskSet(doc, task, set, element, adding: false) }

@c @implementation public func rt_doc_task_get(
  _ doc: OpaquePointer?, _ task: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<rt_bytes>?
) -> rt_status {
  bytesOut(doc, out) { h throws(RealtimeError) in
    let id = try text(task, "task")
    let record = try h.document.withTasks { tasks throws(RealtimeError) in tasks.record(id) }
    guard let record else { throw RealtimeError(.notFound, "no task '\(id)'") }
    return record.json()
  }
}

@c @implementation public func rt_doc_task_ids(_ doc: OpaquePointer?, _ out: UnsafeMutablePointer<rt_bytes>?)
  -> rt_status
{
  bytesOut(doc, out) { h throws(RealtimeError) in
    try h.document.withTasks { tasks throws(RealtimeError) in tasks.taskIDsJSON() }
  }
}
