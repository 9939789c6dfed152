extension Core {
  /// The core's rate limits: the policies its protocol sessions are held to (`publish`,
  /// `subscribe`, `presence`, `typing`, `abuse`) and any the host adds for its own endpoints
  /// (`login` and `request` exist by default). Thread-safe; usable in any state of the core.
  public var rateLimiter: RateLimiter { engine.rateLimiter }
}
