import RealtimeCore

/// Checks the `struct_size` (the first field) of a caller's config struct against the size this
/// library knows: smaller is refused; larger is accepted only if the fields this library does not
/// know are zero, so a newer host asking for something this library cannot do is told so.
/// How far beyond the known size a newer caller's struct may extend.
let maxStructGrowth = 4096

func checkStructSize<T>(_ raw: UnsafePointer<T>, name: String) throws(RealtimeError) {
  let known = MemoryLayout<T>.size
  let size = UnsafeRawPointer(raw).loadUnaligned(as: Int.self)
  guard size >= known else {
    throw RealtimeError(.version, "\(name).struct_size is \(size); this library needs at least \(known)")
  }
  // Structs only grow by a few fields per version: a size far beyond is garbage, and reading that
  // far to check for zeros would run off the caller's memory.
  guard size <= known + maxStructGrowth else {
    throw RealtimeError(.version, "\(name).struct_size is \(size), which no version of this struct has")
  }
  if size > known {
    let bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(raw), count: size)
    if bytes[known...].contains(where: { $0 != 0 }) {
      throw RealtimeError(
        .version,
        "\(name) has fields newer than this library (struct_size \(size) > \(known)) that are set; upgrade the library")
    }
  }
}
