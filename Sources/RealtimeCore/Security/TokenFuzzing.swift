import CSodium

extension FuzzEntry {
  /// The fuzz target's signing key: id `fuzz`, seed bytes 1...32.
  static let tokenFuzzKeyID = "fuzz"
  static let tokenFuzzSeed: [UInt8] = Array(1...32)
  /// The time tokens are checked at (2027-01-15T08:00:00Z); the seed corpus's tokens were
  /// issued 10 s before it.
  public static let tokenFuzzNow: Int64 = 1_800_000_000

  static let tokenFuzzTokens: Tokens? = {
    let tokens = Tokens(clock: { tokenFuzzNow })
    let added = tokenFuzzSeed.withUnsafeBytes { seed in
      (try? tokens.addKey(id: tokenFuzzKeyID, seed: seed)) != nil
    }
    return added ? tokens : nil
  }()

  /// Feeds `bytes` to token verification (as an access token, at `tokenFuzzNow`, key `fuzz`), to
  /// the flat JSON reader and to the ISO 8601 parser. Returns -2 when an invariant broke: a token
  /// that verified does not re-sign to the same bytes (one encoding per token), JSON that
  /// parsed does not re-encode to JSON that parses to the same members, a time that parsed
  /// does not format and parse back to itself. Otherwise the sum of 1 (verified), 2 (JSON)
  /// and 4 (a time).
  public static func token(_ bytes: UnsafeRawBufferPointer) -> Int {
    guard let tokens = tokenFuzzTokens else { return -2 }
    var outcome = 0
    if let verified = try? tokens.verify(bytes, expecting: .access) {
      outcome += 1
      guard let pair = try? tokens.publicKey(id: verified.keyID), pair.count == 32 else { return -2 }
      let again = resignForFuzzing(verified.claimsJSON)
      guard again.utf8.elementsEqual(bytes) else { return -2 }
    }
    if let members = try? FlatJSON.parse(bytes) {
      outcome += 2
      guard let back = try? FlatJSON.parse(Array(FlatJSON.encode(members).utf8)), back.count == members.count,
        zip(back, members).allSatisfy({ $0.key == $1.key && $0.value == $1.value })
      else { return -2 }
    }
    if let seconds = UTCTime.parse(bytes) {
      outcome += 4
      if seconds >= UTCTime.earliest, seconds <= UTCTime.latest {
        guard let text = UTCTime.format(seconds), UTCTime.parse(text.utf8) == seconds else { return -2 }
      }
    }
    return outcome
  }

  /// `claims` signed again with the fuzz key and its footer.
  static func resignForFuzzing(_ claims: [UInt8]) -> String {
    var publicKey = [UInt8](repeating: 0, count: PasetoV4.publicKeyBytes)
    var secret = [UInt8](repeating: 0, count: PasetoV4.secretKeyBytes)
    _ = crypto_sign_seed_keypair(&publicKey, &secret, tokenFuzzSeed)
    return secret.withUnsafeBufferPointer { sk in
      sk.baseAddress.map {
        PasetoV4.sign(message: claims, footer: Tokens.footer(tokenFuzzKeyID), implicit: [], secretKey: $0)
      } ?? ""
    }
  }
}
