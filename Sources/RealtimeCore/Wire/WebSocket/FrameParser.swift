/// A protocol violation found in what the peer sent: the close code to answer with and why.
struct FrameError: Error, Sendable, Equatable {
  let code: CloseCode
  let message: String

  init(_ code: CloseCode, _ message: String) {
    self.code = code
    self.message = message
  }
}

/// What a peer's frames amount to, one complete unit at a time.
enum WebSocketEvent: Sendable, Equatable {
  case text([UInt8])
  case binary([UInt8])
  case ping([UInt8])
  case pong([UInt8])
  /// A close frame: its code (nil when it had none) and UTF-8 reason.
  case close(CloseCode?, [UInt8])
}

/// Reads WebSocket frames incrementally from any split of the byte stream (RFC 6455 §5), and
/// refuses every violation as soon as the byte that shows it arrives: reserved bits or opcodes,
/// unmasked client frames, non-minimal or oversized lengths, fragmented or long control frames,
/// orphan continuations, interleaved data frames, invalid UTF-8 in text (also split across
/// fragments), messages over the size limit (before buffering their payload), bad close frames.
struct FrameParser {
  /// Largest message (all fragments together), in bytes.
  let maxMessageBytes: Int
  /// Frames from clients must be masked; from servers they must not be.
  let expectMasked: Bool

  private enum State {
    case header
    case payload
  }

  private var state = State.header
  // Header bytes gathered so far (at most 14: 2 + 8 length + 4 mask).
  private var header: (UInt64, UInt64) = (0, 0)
  private var headerCount = 0
  private var opcode = Opcode.continuation
  private var fin = false
  // The 4 mask bytes, the first in the lowest 8 bits.
  private var mask: UInt32 = 0
  private var maskOffset = 0
  private var remaining: UInt64 = 0

  // The data message being reassembled, if any.
  private var messageOpcode: Opcode?
  private var message: [UInt8] = []
  private var utf8 = UTF8Validator()
  // The control frame being read (≤ 125 bytes).
  private var control: [UInt8] = []

  init(maxMessageBytes: Int = 1 << 20, expectMasked: Bool = true) {
    self.maxMessageBytes = max(maxMessageBytes, 0)
    self.expectMasked = expectMasked
  }

  /// Consumes all of `bytes`, calling `onEvent` for every complete message or control frame.
  /// Throws at the first violation; the parser is then unusable (the connection must close).
  mutating func feed(
    _ bytes: UnsafeRawBufferPointer, _ onEvent: (WebSocketEvent) -> Void
  ) throws(FrameError) {
    var i = 0
    while i < bytes.count {
      switch state {
      case .header:
        i = try readHeader(bytes, from: i)
        if state == .payload && remaining == 0 { try finishFrame(onEvent) }
      case .payload:
        let n = Int(min(remaining, UInt64(bytes.count - i)))
        try readPayload(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + n)]))
        i += n
        remaining -= UInt64(n)
        if remaining == 0 { try finishFrame(onEvent) }
      }
    }
  }

  private func headerByte(_ k: Int) -> UInt8 {
    k < 8
      ? UInt8(truncatingIfNeeded: header.0 >> (8 * UInt64(k)))
      : UInt8(truncatingIfNeeded: header.1 >> (8 * UInt64(k - 8)))
  }

  private mutating func setHeaderByte(_ k: Int, _ b: UInt8) {
    if k < 8 { header.0 |= UInt64(b) << (8 * UInt64(k)) } else { header.1 |= UInt64(b) << (8 * UInt64(k - 8)) }
  }

  /// Gathers header bytes; validates and switches to the payload once the header is complete.
  private mutating func readHeader(_ bytes: UnsafeRawBufferPointer, from start: Int) throws(FrameError) -> Int {
    var i = start
    while i < bytes.count {
      setHeaderByte(headerCount, bytes[i])
      headerCount += 1
      i += 1
      if headerCount == 1 { try checkFirstByte(headerByte(0)) }
      if headerCount == 2 { try checkSecondByte(headerByte(1)) }
      if headerCount >= 2 && headerCount == headerLength { try completeHeader(); return i }
    }
    return i
  }

  /// 2 bytes, plus 2 or 8 of extended length, plus 4 of mask.
  private var headerLength: Int {
    let len7 = headerByte(1) & 0x7F
    let extra = len7 == 126 ? 2 : len7 == 127 ? 8 : 0
    return 2 + extra + (headerByte(1) & 0x80 != 0 ? 4 : 0)
  }

  private mutating func checkFirstByte(_ b0: UInt8) throws(FrameError) {
    guard b0 & 0x70 == 0 else {
      throw FrameError(.protocolError, "reserved bits set without a negotiated extension")
    }
    guard let op = Opcode(rawValue: b0 & 0x0F) else {
      throw FrameError(.protocolError, "reserved opcode \(b0 & 0x0F)")
    }
    fin = b0 & 0x80 != 0
    opcode = op
    if op.isControl {
      guard fin else { throw FrameError(.protocolError, "fragmented control frame") }
    } else if op == .continuation {
      guard messageOpcode != nil else {
        throw FrameError(.protocolError, "continuation frame without a message to continue")
      }
    } else {
      guard messageOpcode == nil else {
        throw FrameError(.protocolError, "new data frame while a fragmented message is unfinished")
      }
    }
  }

  private func checkSecondByte(_ b1: UInt8) throws(FrameError) {
    let masked = b1 & 0x80 != 0
    if masked != expectMasked {
      throw FrameError(
        .protocolError, expectMasked ? "client frames must be masked" : "server frames must not be masked")
    }
    if opcode.isControl && b1 & 0x7F > 125 {
      throw FrameError(.protocolError, "control frame longer than 125 bytes")
    }
  }

  private mutating func completeHeader() throws(FrameError) {
    let len7 = headerByte(1) & 0x7F
    var length = UInt64(len7)
    var offset = 2
    if len7 == 126 {
      length = UInt64(headerByte(2)) << 8 | UInt64(headerByte(3))
      guard length >= 126 else { throw FrameError(.protocolError, "non-minimal 16-bit length") }
      offset = 4
    } else if len7 == 127 {
      length = 0
      for k in 2..<10 { length = length << 8 | UInt64(headerByte(k)) }
      guard length >> 63 == 0 else { throw FrameError(.protocolError, "64-bit length with the top bit set") }
      guard length > 0xFFFF else { throw FrameError(.protocolError, "non-minimal 64-bit length") }
      offset = 10
    }
    if expectMasked {
      mask =
        UInt32(headerByte(offset)) | UInt32(headerByte(offset + 1)) << 8
        | UInt32(headerByte(offset + 2)) << 16 | UInt32(headerByte(offset + 3)) << 24
    }
    if !opcode.isControl {
      let total = UInt64(message.count) + length
      guard total <= UInt64(maxMessageBytes) else {
        throw FrameError(.messageTooBig, "message exceeds the \(maxMessageBytes)-byte limit")
      }
      if opcode != .continuation {
        messageOpcode = opcode
        utf8 = UTF8Validator()
        message.reserveCapacity(Int(length))
      }
    }
    remaining = length
    maskOffset = 0
    header = (0, 0)
    headerCount = 0
    state = .payload
  }

  private mutating func readPayload(_ chunk: UnsafeRawBufferPointer) throws(FrameError) {
    guard !chunk.isEmpty else { return }
    if opcode.isControl {
      Self.appendUnmasked(chunk, to: &control, mask: expectMasked ? mask : 0, offset: &maskOffset)
      return
    }
    let start = message.count
    Self.appendUnmasked(chunk, to: &message, mask: expectMasked ? mask : 0, offset: &maskOffset)
    if messageOpcode == .text {
      var validator = utf8
      let valid = message.withUnsafeBytes { validator.feed(UnsafeRawBufferPointer(rebasing: $0[start...])) }
      utf8 = validator
      guard valid else { throw FrameError(.invalidPayload, "text message is not valid UTF-8") }
    }
  }

  /// Appends `chunk` XOR the mask (continuing at `offset` within the 4-byte key) to `buffer`.
  private static func appendUnmasked(
    _ chunk: UnsafeRawBufferPointer, to buffer: inout [UInt8], mask: UInt32, offset: inout Int
  ) {
    let start = buffer.count
    buffer.append(contentsOf: chunk)
    guard mask != 0 else {
      offset = (offset + chunk.count) & 3
      return
    }
    buffer.withUnsafeMutableBytes { out in
      var j = start
      var k = offset
      // Whole 8-byte words with the key rotated to the current offset, then the tail.
      let rotated = UInt64(mask.rotateRight(by: 8 * (k & 3)))
      let word = rotated | rotated << 32
      while j + 8 <= out.count {
        let value = out.loadUnaligned(fromByteOffset: j, as: UInt64.self) ^ word
        out.storeBytes(of: value, toByteOffset: j, as: UInt64.self)
        j += 8
      }
      k &+= j - start
      while j < out.count {
        out[j] ^= UInt8(truncatingIfNeeded: mask >> (8 * UInt32(k & 3)))
        j += 1
        k &+= 1
      }
      offset = k & 3
    }
  }

  private mutating func finishFrame(_ onEvent: (WebSocketEvent) -> Void) throws(FrameError) {
    state = .header
    switch opcode {
    case .ping:
      onEvent(.ping(control))
      control.removeAll(keepingCapacity: true)
    case .pong:
      onEvent(.pong(control))
      control.removeAll(keepingCapacity: true)
    case .close:
      defer { control.removeAll(keepingCapacity: true) }
      onEvent(try parseClose(control))
    case .text, .binary, .continuation:
      guard fin, let kind = messageOpcode else { return }
      if kind == .text {
        guard utf8.isComplete else { throw FrameError(.invalidPayload, "text message ends inside a UTF-8 sequence") }
        onEvent(.text(message))
      } else {
        onEvent(.binary(message))
      }
      message = []
      messageOpcode = nil
    }
  }

  private func parseClose(_ payload: [UInt8]) throws(FrameError) -> WebSocketEvent {
    if payload.isEmpty { return .close(nil, []) }
    guard payload.count >= 2 else { throw FrameError(.protocolError, "close frame with a 1-byte payload") }
    let code = CloseCode(rawValue: UInt16(payload[0]) << 8 | UInt16(payload[1]))
    guard code.isValidOnTheWire else { throw FrameError(.protocolError, "invalid close code \(code.rawValue)") }
    let reason = Array(payload[2...])
    guard reason.withUnsafeBytes({ UTF8Validator.isValid($0) }) else {
      throw FrameError(.invalidPayload, "close reason is not valid UTF-8")
    }
    return .close(code, reason)
  }
}

extension UInt32 {
  /// Rotates right by `bits` (0 ≤ bits < 32).
  fileprivate func rotateRight(by bits: Int) -> UInt32 {
    bits == 0 ? self : (self >> UInt32(bits)) | (self << UInt32(32 - bits))
  }
}
