// realtime-server: the bundled example server. It opens the core on its SQLite database, serves
// the WebSocket endpoint at ws://HOST:PORT/ws, and runs until SIGINT or SIGTERM. The application
// protocol, REST API and browser client arrive with the issues that build them.
import ArgumentParser
import Foundation
import Glibc
import Logging
import RealtimeCore

@main
struct RealtimeServer: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "realtime-server",
    abstract: "The RealtimeCore example server: chat, workspaces, tasks and file sync on one core.")

  @Option(help: "Address to listen on (loopback by default).")
  var host = "127.0.0.1"

  @Option(help: "TCP port to listen on (0 picks a free port).")
  var port = 8080

  @Option(help: "Milliseconds a client has to complete the WebSocket handshake.")
  var handshakeTimeoutMs: UInt64 = 10_000

  @Option(help: "Milliseconds a client has, after the upgrade, to send its connect message (then 4004).")
  var connectTimeoutMs: UInt64 = 10_000

  @Option(help: "Milliseconds of client silence before it is closed (pinged at half of it).")
  var idleTimeoutMs: UInt64 = 60_000

  @Option(help: "Bytes queued for one client before it is closed as a slow consumer (1008).")
  var maxWriteQueueBytes: Int = 4 << 20

  @Option(help: "Most open WebSocket connections.")
  var maxConnections = 10_000

  @Option(help: "Most open WebSocket connections from one IP address.")
  var maxConnectionsPerIP = 256

  @Option(help: "Folder of the browser client, served at / (empty: serve nothing).")
  var webRoot = "./examples/web"

  @Option(help: "SQLite database file, created with its directory if missing.")
  var db = "./data/realtime.db"

  @Flag(help: "Keep everything in memory instead (lost at exit).")
  var inMemory = false

  @Option(help: "When writes are acknowledged: full, normal or off.")
  var durability: DurabilityOption = .full

  @Option(
    help: ArgumentHelp(
      "Channel namespace options, repeatable: NAME=OPTION,... (an empty NAME is the default namespace).",
      discussion:
        "Options: memory | persistent, history=N, age-ms=N, publish=clients|subscribers|server, "
        + "no-client-subscribe, presence, idempotency-ms=N, slow=disconnect|drop-oldest|coalesce, "
        + "scoped (channels and documents NAME:WORKSPACE/... only for the workspace's members; see --member). "
        + "e2e (end-to-end: clients publish sealed binary data, routed and stored opaque). "
        + "Example: --namespace 'chat=history=500' --namespace 'typing=memory,history=1'"
    ))
  var namespace: [NamespaceSpec] = []

  @Option(
    help: ArgumentHelp(
      "Workspace membership, repeatable and stored: WORKSPACE:USER:ROLE.",
      discussion:
        "ROLE: owner, admin, member, guest (or the seeds' ceo, manager, staff), or none to remove. "
        + "Members of a scoped namespace's workspace get its rules: guests read, members also write."
    ))
  var member: [MemberSpec] = []

  @Option(
    help: ArgumentHelp(
      "File of workspace memberships, one WORKSPACE:USER:ROLE a line (# comments), read at start and on SIGHUP.",
      discussion:
        "On SIGHUP the file is read again: its roles are set, and members it listed before but no longer lists "
        + "are removed; their open sessions lose at once what they may no longer hold. A file with a bad line "
        + "changes nothing."
    ))
  var membersFile: String?

  @Option(
    help: ArgumentHelp(
      "Access rule of one channel or document, repeatable and stored: NAME,ACTION=ROLE.",
      discussion:
        "ACTION: subscribe, publish, presence, history, doc_read, doc_write; ROLE as for --member, or inherit "
        + "to remove. Example: --access-rule 'chat:acme/announcements,publish=admin'"
    ))
  var accessRule: [AccessRuleSpec] = []

  @Option(
    help: ArgumentHelp(
      "Rate limit, repeatable: NAME=COUNT/PERIOD_MS[/BURST] or NAME=off.",
      discussion:
        "The core's limits: publish (per user or connection; default 100/60000/20), subscribe, presence, typing, "
        + "abuse (refusals before a 4006 disconnect). This server's own: login, request. Example: --rate-limit publish=off"
    ))
  var rateLimit: [RateLimitSpec] = []

  @Flag(
    help: ArgumentHelp(
      "INSECURE, for development and tests: take a client's token USER/DEVICE as who it is.",
      discussion:
        "Receipts and unread counts need to know the user. Until signed tokens arrive (the security work), this flag lets a client name itself: ws://host/ws?token=ada/phone."
    ))
  var trustTokenIdentity = false

  @Option(
    help: ArgumentHelp(
      "Ed25519 token signing key seed, 64 hex digits (key id 'server'): enables signed access tokens.",
      discussion:
        "With a key, the WebSocket upgrade checks access tokens (see --token-auth). A command line is visible to "
        + "other local users: for anything but tests, pass the seed in the RT_TOKEN_KEY_SEED environment variable instead."
    ))
  var tokenKeySeed: String?

  @Option(help: "With a token key: whether the upgrade's access token is off, optional or required.")
  var tokenAuth: TokenAuthOption = .required

  @Flag(
    help: ArgumentHelp(
      "INSECURE, for development and tests: serve /dev/session, /dev/refresh, /dev/revoke and /dev/token.",
      discussion: "They mint tokens for any user without a password. Needs a token key."))
  var devTokenEndpoints = false

  @Option(help: "Log level: error, warn, info or debug.")
  var logLevel: LevelOption = .info

  @Option(
    help: ArgumentHelp(
      "Master keys for sealing stored payloads at rest: a file of ID:HEX lines (mode 600).",
      discussion:
        "With keys, channel messages, document updates, snapshots and file chunks are stored sealed (XChaCha20-Poly1305); "
        + "the highest id seals new data, the others still open what they sealed. See docs/security.md."
    ))
  var keyFile: String?

  @Option(help: "Environment variable holding master keys, in the key file's format.")
  var keyEnv: String?

  @Flag(
    help: ArgumentHelp(
      "Re-seal every stored payload under the current key, print how many rows, and exit (does not serve).",
      discussion:
        "After rotating (adding a line with a higher id to the key file): realtime-server --reseal --db PATH --key-file PATH. "
        + "Stop the server first (the database is locked while it runs); old keys can be removed afterwards."
    ))
  var reseal = false

  func validate() throws {
    guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
    guard !host.isEmpty else { throw ValidationError("--host must not be empty") }
    guard handshakeTimeoutMs > 0, idleTimeoutMs > 0, connectTimeoutMs > 0 else {
      throw ValidationError("timeouts must be positive")
    }
    guard maxWriteQueueBytes >= 4096 else { throw ValidationError("--max-write-queue-bytes must be at least 4096") }
    guard maxConnections > 0, maxConnectionsPerIP > 0 else {
      throw ValidationError("connection limits must be positive")
    }
    if let seed = tokenKeySeed ?? ProcessInfo.processInfo.environment["RT_TOKEN_KEY_SEED"], seedBytes(hex: seed) == nil
    {
      throw ValidationError("the token key seed must be 64 hex digits")
    }
    if devTokenEndpoints && tokenKeySeed == nil && ProcessInfo.processInfo.environment["RT_TOKEN_KEY_SEED"] == nil {
      throw ValidationError("--dev-token-endpoints needs a token key (--token-key-seed)")
    }
    if reseal {
      guard !inMemory else { throw ValidationError("--reseal works on a database file (--db), not --in-memory") }
      guard keyFile != nil || keyEnv != nil else { throw ValidationError("--reseal needs --key-file or --key-env") }
    }
  }

  /// Loads the master keys named on the command line into `core`.
  func loadKeys(into core: Core) throws {
    if let keyFile { try core.keyring.load(file: keyFile) }
    if let keyEnv { try core.keyring.load(environment: keyEnv) }
  }

  /// `--reseal`: re-seals the database under the current key, without serving.
  func resealAndExit(logger: Logger) throws {
    do {
      let core = try Core(config: CoreConfig(databasePath: db, durability: durability.value, logLevel: logLevel.core))
      try loadKeys(into: core)
      let rows = try core.reseal()
      try core.close()
      print("realtime-server: re-sealed \(rows) rows under key \(core.keyring.currentID ?? 0) in \(db)")
    } catch {
      logger.error("re-seal failed: \(error)")
      throw ExitCode.failure
    }
  }

  func run() throws {
    LoggingSystem.bootstrap(StreamLogHandler.standardError)
    var logger = Logger(label: "realtime-server")
    logger.logLevel = logLevel.swiftLog
    if reseal { return try resealAndExit(logger: logger) }

    // Block the stop signals before any thread starts, so every thread inherits the mask and
    // the signals wait for sigwait below instead of killing the process mid-write.
    var stopSignals = sigset_t()
    sigemptyset(&stopSignals)
    sigaddset(&stopSignals, SIGINT)
    sigaddset(&stopSignals, SIGTERM)
    sigaddset(&stopSignals, SIGHUP)
    pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

    let path = inMemory ? nil : db
    if let path { try makeParentDirectory(of: path) }
    let coreLogger = logger
    let core: Core
    let members = MembersFile()
    do {
      core = try Core(
        config: CoreConfig(
          databasePath: path, durability: durability.value, logLevel: logLevel.core,
          logHandler: { level, message in coreLogger.log(level: level.swiftLog, "\(message)") }))
      try loadKeys(into: core)
      if let current = core.keyring.currentID {
        logger.info("sealing stored payloads at rest under key \(current) (\(core.keyring.ids.count) keys held)")
      }
      try core.start()
      for spec in rateLimit {
        try core.rateLimiter.set(spec.name, spec.policy)
        logger.info(
          "rate limit \(spec.name): \(spec.policy.map { "\($0.count) per \($0.periodMs) ms, burst \($0.burst)" } ?? "off")"
        )
      }
      for spec in namespace {
        try core.configure(namespace: spec.name, spec.options)
        if spec.scoped { try core.access.scope(namespace: spec.name, AccessRules()) }
        logger.info(
          "namespace \"\(spec.name)\": \(spec.options.persistent ? "persistent" : "in memory"), history \(spec.options.historySize)"
        )
      }
      for spec in member {
        try core.access.setRole(spec.role, user: spec.user, in: spec.workspace)
        logger.info("member \(spec.user) of \(spec.workspace): \(spec.role.name)")
      }
      if let membersFile { try members.reload(membersFile, into: core, logger: logger) }
      for spec in accessRule {
        try core.access.setRule(for: spec.name, spec.action, minimum: spec.minimum)
        logger.info("access rule \(spec.name) \(spec.action.name): \(spec.minimum?.name ?? "inherit")")
      }
      var config = ListenConfig(
        maxConnections: maxConnections, maxConnectionsPerIP: maxConnectionsPerIP,
        handshakeTimeoutMs: handshakeTimeoutMs, maxWriteQueueBytes: maxWriteQueueBytes, idleTimeoutMs: idleTimeoutMs,
        connectTimeoutMs: connectTimeoutMs)
      var handlers: [HTTPHandler] = []
      if let hex = tokenKeySeed ?? ProcessInfo.processInfo.environment["RT_TOKEN_KEY_SEED"],
        let seed = seedBytes(hex: hex)
      {
        try seed.withUnsafeBytes { try core.tokens.addKey(id: "server", seed: $0) }
        config.session.tokenAuth = tokenAuth.value
        logger.info("signed access tokens: \(tokenAuth.rawValue) on the upgrade")
        if devTokenEndpoints {
          logger.warning("--dev-token-endpoints: anyone can mint tokens; never use this in production")
          let endpoints = DevTokenEndpoints(core: core)
          handlers.append { endpoints.respond($0) }
        }
      }
      var isDirectory: ObjCBool = false
      if !webRoot.isEmpty
        && !(FileManager.default.fileExists(atPath: webRoot, isDirectory: &isDirectory) && isDirectory.boolValue)
      {
        logger.warning("no browser client at \(webRoot) (see --web-root); serving only /ws")
      } else if !webRoot.isEmpty {
        let files = try StaticFiles(root: webRoot)
        handlers.append { files.respond($0) }
        logger.info("serving \(files.count) files from \(webRoot) at /")
      }
      if !handlers.isEmpty {
        let chain = handlers
        config.session.httpHandler = { request in
          for handler in chain { if let response = handler(request) { return response } }
          return nil
        }
      }
      if trustTokenIdentity {
        logger.warning("--trust-token-identity: clients name themselves; never use this in production")
        config.session.authenticate = { request in
          guard let token = request.token else { return .allow(nil) }
          let parts = token.split(separator: "/", maxSplits: 1).map(String.init)
          guard parts.count == 2, let identity = Identity(user: parts[0], device: parts[1]) else {
            return .deny(status: 401, message: "expected a token USER/DEVICE")
          }
          return .allow(identity)
        }
      }
      let bound = try core.listen(host: host, port: port, config: config)
      // Always shown, whatever the log level: with --port 0 it is the only way to learn the port.
      FileHandle.standardError.write(
        Data("realtime-server: listening on ws://\(host):\(bound)/ws (browser client: http://\(host):\(bound)/)\n".utf8)
      )
    } catch {
      logger.error("cannot start: \(error)")
      throw ExitCode.failure
    }
    logger.info(
      "core running on \(path ?? "memory") (durability \(durability.rawValue)); Ctrl-C stops"
    )

    var received: Int32 = 0
    while true {
      sigwait(&stopSignals, &received)
      guard received == SIGHUP else { break }
      guard let membersFile else {
        logger.info("SIGHUP: no --members-file to read")
        continue
      }
      do {
        try members.reload(membersFile, into: core, logger: logger)
      } catch {
        logger.error("SIGHUP: \(membersFile) not applied: \(error)")
      }
    }
    logger.info("signal \(received): stopping")
    do {
      try core.close()
    } catch {
      logger.error("stop failed: \(error)")
      throw ExitCode.failure
    }
    logger.info("stopped cleanly")
  }
}

/// Creates the directories above `path` (like mkdir -p), so the default ./data/ just works.
func makeParentDirectory(of path: String) throws {
  guard let slash = path.lastIndex(of: "/") else { return }
  let parent = String(path[..<slash])
  guard !parent.isEmpty else { return }
  var built = parent.hasPrefix("/") ? "" : "."
  for part in parent.split(separator: "/") {
    built += "/" + part
    if mkdir(built, 0o755) != 0 && errno != EEXIST {
      throw ValidationError("cannot create directory \(built): \(String(cString: strerror(errno)))")
    }
  }
}

enum DurabilityOption: String, ExpressibleByArgument, CaseIterable {
  case full, normal, off
  var value: Durability {
    switch self {
    case .full: .full
    case .normal: .normal
    case .off: .off
    }
  }
}

enum LevelOption: String, ExpressibleByArgument, CaseIterable {
  case error, warn, info, debug
  var core: LogLevel {
    switch self {
    case .error: .error
    case .warn: .warn
    case .info: .info
    case .debug: .debug
    }
  }
  var swiftLog: Logger.Level {
    switch self {
    case .error: .error
    case .warn: .warning
    case .info: .info
    case .debug: .debug
    }
  }
}

extension LogLevel {
  var swiftLog: Logger.Level {
    switch self {
    case .off, .error: .error
    case .warn: .warning
    case .info: .info
    case .debug: .debug
    }
  }
}
