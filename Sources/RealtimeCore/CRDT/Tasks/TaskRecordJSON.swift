extension TaskRecord {
  /// The record as one JSON object for hosts and clients that read rather than merge: the title
  /// and the description as strings (their merged text), each other single-value field as an
  /// array of its live values, last writer first (two or more: a conflict until someone sets it
  /// again), the sets as sorted arrays, the position as hex.
  /// `{"id":…,"title":"…","description":"…","status":[…],"category":[…],"priority":[…],`
  /// `"due":[…],"position":[…],"deleted":[…],"assignees":[…],"tags":[…]}`
  public func json() -> [UInt8] {
    var out: [UInt8] = []
    func key(_ name: String, first: Bool = false) {
      out += Array((first ? "{\"" : ",\"").utf8) + Array(name.utf8) + Array("\":".utf8)
    }
    func list<V>(_ values: [V], _ write: (V) -> Void) {
      out.append(UInt8(ascii: "["))
      for (i, v) in values.enumerated() {
        if i > 0 { out.append(UInt8(ascii: ",")) }
        write(v)
      }
      out.append(UInt8(ascii: "]"))
    }
    func string(_ s: String) { EnvelopeWriter.appendJSONString(s, to: &out) }
    key("id", first: true)
    string(id)
    for (name, text) in [("title", title), ("description", description)] {
      key(name)
      string(text.text)
    }
    for (name, register) in [("status", status), ("category", category)] {
      key(name)
      list(register.values, string)
    }
    key("priority")
    list(priority.values) { out += Array(String($0).utf8) }
    key("due")
    list(dueDate.values) { out += Array(($0.map { String($0) } ?? "null").utf8) }
    key("position")
    list(position.values) { bytes in
      let hex = Array("0123456789abcdef".utf8)
      out.append(UInt8(ascii: "\""))
      for b in bytes { out += [hex[Int(b >> 4)], hex[Int(b & 15)]] }
      out.append(UInt8(ascii: "\""))
    }
    key("deleted")
    list(deleted.values) { out += Array(($0 ? "true" : "false").utf8) }
    for (name, set) in [("assignees", assignees), ("tags", tags)] {
      key(name)
      list(set.elements.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }, string)
    }
    out.append(UInt8(ascii: "}"))
    return out
  }
}

extension TaskListDocument {
  /// The task ids as a JSON array of strings, in byte order.
  public func taskIDsJSON() -> [UInt8] {
    var out: [UInt8] = [UInt8(ascii: "[")]
    for (i, id) in taskIDs.enumerated() {
      if i > 0 { out.append(UInt8(ascii: ",")) }
      EnvelopeWriter.appendJSONString(id, to: &out)
    }
    out.append(UInt8(ascii: "]"))
    return out
  }
}
