/**
 * One WebSocket session with a vault's sync server:
 *
 *   -> {op: "init", token, id, keyhash, version, initial, device, encryption_version}
 *   <- {res: "ok", perFileMax} | {res: "err", msg} | {status: "err", msg}
 *   <- {op: "push", uid, path, hash, size, ctime, mtime, folder, deleted} …   every change after `version`
 *   <- {op: "ready", version}                                                  (with initial: the live files)
 *   -> {op: "pull", uid}   <- {size, pieces, deleted}, then `pieces` binary frames
 *   -> {op: "ping"}        <- {op: "pong"}                                     when idle
 *
 * Replies to a pull carry no id, so one pull is in flight at a time; pushes
 * and `ready` may arrive between its frames, and any other message (whatever
 * its `op`) is the answer to the request in flight. Liveness as Obsidian's own
 * client keeps it: a ping after `pingIntervalMs` (10 s) without a message; the
 * connection is dead after `idleTimeoutMs` (120 s) without any message, pongs
 * included; a request (and each frame of its answer) times out after
 * `timeoutMs` (60 s); connecting and `init` may take `connectTimeoutMs` (2 min).
 */
import { createHash } from 'node:crypto'
import WebSocket from 'ws'
import { ObsidianError } from './errors.ts'
import { silentLog, type ClientLog } from './log.ts'
import { quote, REFUSAL_MESSAGES, refusalCode } from './refusal.ts'
import { USER_AGENT } from './user-agent.ts'
import type { VaultCipher } from './vault-cipher.ts'

/** A change the server announces, its path and hash decrypted. */
export interface Push {
  /** The version of this change; what `pull` fetches. */
  uid: number
  path: string
  /** hex(sha256(plaintext)); empty for folders and deletions, and for a file the service holds no hash of. */
  hash: string
  /** Bytes of encrypted content on the wire. */
  size: number
  ctime: number
  mtime: number
  folder: boolean
  deleted: boolean
}

/** What the push stream yields: a readable change, or one whose fields do not decrypt or make sense. */
export type PushEvent =
  { kind: 'push'; push: Push } | { kind: 'unreadable'; uid: number | undefined; error: ObsidianError }

export interface SessionOptions {
  url: string
  token: string
  vaultId: string
  cipher: VaultCipher
  /** The last version fully applied; 0 with `initial` for the vault's current files. */
  version: number
  initial: boolean
  device: string
  /** Longest wait for the answer to a request, and for each next frame of it (default 60 s). */
  timeoutMs?: number
  /** Time without a message before a ping (default 10 s). */
  pingIntervalMs?: number
  /** Time without any message, pongs included, after which the connection is dead (default 120 s). */
  idleTimeoutMs?: number
  /** Longest time to connect and have `init` answered (default 2 min). */
  connectTimeoutMs?: number
  /** Largest file the client will pull (default 1 GiB). */
  maxFileBytes?: number
  log?: ClientLog
}

/** Text frames (JSON) are small; a binary frame is a piece, which may be as large as its file. */
const MAX_TEXT_FRAME_BYTES = 4 * 1024 * 1024
const DEFAULT_TIMEOUT_MS = 60_000
const DEFAULT_CONNECT_TIMEOUT_MS = 120_000
/** What encryption adds to a file on the wire: the IV and the tag. */
const CONTENT_OVERHEAD = 12 + 16
const HASH = /^[0-9a-f]{64}$/

type Waiter<T> = { resolve: (value: T) => void; reject: (err: Error) => void }

export class VaultSession {
  /** The vault's version once the server said `ready`. */
  version: number | undefined
  /** The server's per-file limit, as it announced it; pulls larger than it (and its IV and tag) are refused. */
  perFileMax: number | undefined

  private readonly socket: WebSocket
  private readonly options: Required<Omit<SessionOptions, 'log'>> & { log: ClientLog }
  private failure: ObsidianError | undefined
  private readonly pushQueue: PushEvent[] = []
  private pushWaiter: Waiter<void> | undefined
  private replyWaiter: Waiter<Record<string, unknown>> | undefined
  private readonly pieces: Buffer[] = []
  private pieceWaiter: Waiter<Buffer> | undefined
  private pullLock: Promise<void> = Promise.resolve()
  private lastHeard = Date.now()
  private lastPing = Date.now()
  /** Until `init` is answered the wait is the connect timeout's, not a request's. */
  private connecting = true
  /** When the current wait for a reply, a piece or the next push began, or the last such frame came. */
  private waitingSince = Date.now()
  private readonly timer: NodeJS.Timeout

  private constructor(options: SessionOptions, socket: WebSocket) {
    // Each default by `??`: the client passes every option it was given, undefined included, and spreading those
    // over the defaults left a session with no timeout, no pings and no size limit.
    this.options = {
      ...options,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      pingIntervalMs: options.pingIntervalMs ?? 10_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 120_000,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      maxFileBytes: options.maxFileBytes ?? 1024 * 1024 * 1024,
      log: options.log ?? silentLog
    }
    this.socket = socket
    const { pingIntervalMs, timeoutMs, idleTimeoutMs, connectTimeoutMs } = this.options
    const tick = Math.max(10, Math.min(pingIntervalMs, timeoutMs, idleTimeoutMs, connectTimeoutMs) / 4)
    this.timer = setInterval(() => this.keepAlive(), tick)
    this.timer.unref()
  }

  /** Connects, sends init, and returns once the server accepted it; pushes follow. */
  static async open(options: SessionOptions): Promise<VaultSession> {
    const socket = new WebSocket(options.url, {
      handshakeTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      // A piece may be as large as its file: the pull checks each against the file's size and the limits.
      maxPayload: Math.max(options.maxFileBytes ?? 1024 * 1024 * 1024, MAX_TEXT_FRAME_BYTES),
      headers: { origin: 'app://obsidian.md', 'user-agent': USER_AGENT }
    })
    const session = new VaultSession(options, socket)
    const accepted = new Promise<Record<string, unknown>>((resolve, reject) => {
      session.replyWaiter = { resolve, reject }
    })
    socket.on('message', (data: Buffer, isBinary: boolean) => session.onFrame(data, isBinary))
    socket.on('close', (code: number) =>
      session.fail(new ObsidianError('NETWORK', `The sync server closed the connection (${code})`))
    )
    socket.on('error', (err: Error) =>
      session.fail(
        new ObsidianError('NETWORK', 'The sync server could not be reached or the connection broke', { cause: err })
      )
    )
    socket.on('open', () => {
      session.send({
        op: 'init',
        token: options.token,
        id: options.vaultId,
        keyhash: options.cipher.keyhash,
        version: options.version,
        initial: options.initial,
        device: options.device,
        encryption_version: options.cipher.encryptionVersion
      })
    })
    try {
      const answer = await accepted
      session.connecting = false
      if (answer.res !== 'ok' && answer.status !== 'ok') throw initError(answer)
      if (answer.perFileMax !== undefined) {
        if (!Number.isSafeInteger(answer.perFileMax) || (answer.perFileMax as number) < 0)
          throw new ObsidianError('PROTOCOL', 'init answered with a malformed perFileMax')
        session.perFileMax = answer.perFileMax as number
      }
    } catch (err) {
      session.close()
      throw err
    }
    session.options.log.debug(
      { vaultId: options.vaultId, version: options.version, initial: options.initial },
      'vault session open'
    )
    return session
  }

  /** Every change after `version`, in order, until the server is `ready`; throws when the session fails first. */
  async *pushes(): AsyncGenerator<PushEvent> {
    while (true) {
      const next = this.pushQueue.shift()
      if (next !== undefined) {
        yield next
        continue
      }
      if (this.version !== undefined) return
      if (this.failure !== undefined) throw this.failure
      this.waitingSince = Date.now()
      await new Promise<void>((resolve, reject) => {
        this.pushWaiter = { resolve, reject }
      })
    }
  }

  /**
   * One file's plaintext, piece by piece (at most a piece in memory). The
   * pieces are unverified until the iteration ends without error: the tag and
   * the hash are checked last, so nothing pulled may be made visible before.
   * Pulls queue behind each other; abandoning one midway closes the session.
   * A push with an empty `hash` has it set to the content's SHA-256 when the
   * pull ends verified.
   */
  async *pull(push: Pick<Push, 'uid' | 'hash'>): AsyncGenerator<Buffer> {
    const previous = this.pullLock
    let release!: () => void
    this.pullLock = new Promise(resolve => {
      release = resolve
    })
    await previous
    let finished = false
    try {
      this.check()
      const reply = await this.request({ op: 'pull', uid: push.uid })
      if (
        typeof reply.err === 'string' ||
        typeof reply.error === 'string' ||
        reply.res === 'err' ||
        reply.status === 'err'
      ) {
        const said = String(reply.err ?? reply.error ?? reply.msg ?? '')
        throw new ObsidianError('SERVICE_ERROR', `The sync server refused to send version ${push.uid}: ${quote(said)}`)
      }
      if (reply.deleted === true)
        throw new ObsidianError('FILE_GONE', `Version ${push.uid} is a deletion; it has no content`)
      const size = reply.size
      const pieces = reply.pieces
      // Pieces may be any size up to the file's: at most one per byte.
      if (
        !Number.isSafeInteger(size) ||
        (size as number) < 0 ||
        !Number.isSafeInteger(pieces) ||
        (pieces as number) < 0 ||
        (pieces as number) > Math.max(1, size as number)
      ) {
        throw this.broken(
          new ObsidianError(
            'PROTOCOL',
            `The pull of version ${push.uid} was answered with a malformed size or piece count`
          )
        )
      }
      const [limit, whose] = this.sizeLimit()
      if ((size as number) > limit) {
        throw this.broken(
          new ObsidianError('TOO_LARGE', `Version ${push.uid} is ${size as number} bytes, over ${whose} of ${limit}`)
        )
      }
      const decryptor = this.options.cipher.contentDecryptor(size as number)
      const digest = createHash('sha256')
      let received = 0
      for (let i = 0; i < (pieces as number); i++) {
        const piece = await this.nextPiece()
        received += piece.length
        if (received > (size as number))
          throw this.broken(new ObsidianError('PROTOCOL', `Version ${push.uid} sent more bytes than its size`))
        const plain = decryptor.update(piece)
        digest.update(plain)
        if (plain.length > 0) yield plain
      }
      if (received !== size)
        throw this.broken(
          new ObsidianError('PROTOCOL', `Version ${push.uid} sent ${received} of ${size as number} bytes`)
        )
      const last = decryptor.final()
      digest.update(last)
      // A file the service holds no hash of (an empty `hash` field) has only its tag to check; once that passed,
      // the push is given the hash of what was pulled, so whoever records the file records its real hash.
      const sha256 = digest.digest('hex')
      if (push.hash === '') push.hash = sha256
      else if (sha256 !== push.hash) throw new ObsidianError('INTEGRITY', `Version ${push.uid} does not match its hash`)
      if (last.length > 0) yield last
      finished = true
    } catch (err) {
      finished = true
      throw err
    } finally {
      // Left midway by its reader: the rest of its frames would be taken for the next pull's.
      if (!finished)
        this.fail(new ObsidianError('PROTOCOL', 'A pull was abandoned before its end; the session was closed'))
      release()
    }
  }

  close(): void {
    this.fail(new ObsidianError('NETWORK', 'The session was closed'))
  }

  private send(message: Record<string, unknown>): void {
    this.socket.send(JSON.stringify(message))
  }

  /** The largest file a pull takes: ours, or the server's announced per-file limit when that is lower. */
  private sizeLimit(): [number, string] {
    // 0 is read as no limit announced rather than as "no file may have content".
    const server = !this.perFileMax ? Infinity : this.perFileMax + CONTENT_OVERHEAD
    return server < this.options.maxFileBytes
      ? [server, "the sync server's per-file limit"]
      : [this.options.maxFileBytes, 'the limit']
  }

  private async request(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    const reply = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.replyWaiter = { resolve, reject }
    })
    this.waitingSince = Date.now()
    this.send(message)
    return await reply
  }

  private async nextPiece(): Promise<Buffer> {
    const ready = this.pieces.shift()
    if (ready !== undefined) {
      this.socket.resume()
      return ready
    }
    this.check()
    this.waitingSince = Date.now()
    return await new Promise<Buffer>((resolve, reject) => {
      this.pieceWaiter = { resolve, reject }
    })
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    this.lastHeard = Date.now()
    if (isBinary) {
      this.waitingSince = this.lastHeard
      if (data.length > this.sizeLimit()[0]) {
        this.fail(new ObsidianError('TOO_LARGE', 'The sync server sent a piece larger than a file may be'))
        return
      }
      if (this.pieceWaiter !== undefined) {
        const waiter = this.pieceWaiter
        this.pieceWaiter = undefined
        waiter.resolve(data)
      } else {
        this.pieces.push(data)
        // Back-pressure: the server's pieces wait in the socket while the reader works on one.
        this.socket.pause()
      }
      return
    }
    if (data.length > MAX_TEXT_FRAME_BYTES) {
      this.fail(new ObsidianError('TOO_LARGE', `The sync server sent a message over ${MAX_TEXT_FRAME_BYTES} bytes`))
      return
    }
    let message: unknown
    try {
      message = JSON.parse(data.toString('utf8'))
    } catch {
      this.fail(new ObsidianError('PROTOCOL', 'The sync server sent a text frame that is not JSON'))
      return
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      this.fail(new ObsidianError('PROTOCOL', 'The sync server sent JSON that is not an object'))
      return
    }
    const m = message as Record<string, unknown>
    if (m.op !== 'pong') this.waitingSince = this.lastHeard
    switch (m.op) {
      case 'pong':
        return
      case 'push':
        this.pushQueue.push(this.readPush(m))
        this.wakePushes()
        return
      case 'ready':
        if (!Number.isSafeInteger(m.version) || (m.version as number) < 0) {
          this.fail(new ObsidianError('PROTOCOL', 'The sync server sent ready with a malformed version'))
          return
        }
        this.version = m.version as number
        this.wakePushes()
        return
    }
    // Any other message answers the request in flight, whatever its op; with none in flight, one with an op is
    // news this client has no use for.
    if (this.replyWaiter === undefined && typeof m.op === 'string' && m.op !== '') {
      this.options.log.debug({ op: m.op.slice(0, 32) }, 'sync server message ignored')
      return
    }
    if (this.replyWaiter === undefined) {
      this.fail(new ObsidianError('PROTOCOL', 'The sync server sent a reply nobody asked for'))
      return
    }
    const waiter = this.replyWaiter
    this.replyWaiter = undefined
    waiter.resolve(m)
  }

  private readPush(m: Record<string, unknown>): PushEvent {
    const uid = Number.isSafeInteger(m.uid) && (m.uid as number) > 0 ? (m.uid as number) : undefined
    const unreadable = (message: string, cause?: unknown): PushEvent => ({
      kind: 'unreadable',
      uid,
      error: cause instanceof ObsidianError ? cause : new ObsidianError('PROTOCOL', message)
    })
    if (uid === undefined) return unreadable('A push has no valid uid')
    const folder = m.folder === true
    const deleted = m.deleted === true
    const times = [m.ctime ?? 0, m.mtime ?? 0]
    if (
      typeof m.path !== 'string' ||
      m.path.length > 16_384 ||
      !times.every(t => Number.isSafeInteger(t) && (t as number) >= 0)
    ) {
      return unreadable(`Push ${uid} has a malformed path or time`)
    }
    const size = folder || deleted ? 0 : m.size
    if (!Number.isSafeInteger(size) || (size as number) < 0) return unreadable(`Push ${uid} has a malformed size`)
    try {
      const path = this.options.cipher.decryptPath(m.path)
      let hash = ''
      if (!folder && !deleted) {
        if (typeof m.hash !== 'string') return unreadable(`Push ${uid} has no hash`)
        if (m.hash !== '') hash = this.options.cipher.decryptHash(m.hash)
        if (hash !== '' && !HASH.test(hash)) return unreadable(`Push ${uid} has a hash that is not a SHA-256`)
      }
      return {
        kind: 'push',
        push: {
          uid,
          path,
          hash,
          size: size as number,
          ctime: times[0] as number,
          mtime: times[1] as number,
          folder,
          deleted
        }
      }
    } catch (err) {
      // Which field failed, and the change it belongs to.
      if (err instanceof ObsidianError)
        return unreadable('', new ObsidianError(err.code, `Push ${uid}: ${err.message}`, { cause: err }))
      return unreadable(`Push ${uid} does not decrypt`, err)
    }
  }

  private wakePushes(): void {
    const waiter = this.pushWaiter
    this.pushWaiter = undefined
    waiter?.resolve()
  }

  private keepAlive(): void {
    if (this.failure !== undefined) return
    const now = Date.now()
    const { timeoutMs, idleTimeoutMs, connectTimeoutMs, pingIntervalMs } = this.options
    // Paused, the reader is behind, not the server: nothing the server sends is seen until it resumes.
    if (!this.socket.isPaused) {
      if (this.connecting) {
        if (now - this.waitingSince > connectTimeoutMs) {
          this.fail(new ObsidianError('TIMEOUT', `The sync server did not answer init within ${connectTimeoutMs} ms`))
          return
        }
      } else if (
        (this.replyWaiter !== undefined || this.pieceWaiter !== undefined || this.pushWaiter !== undefined) &&
        now - this.waitingSince > timeoutMs
      ) {
        // Waiting, pongs alone do not count: the server must make progress.
        this.fail(new ObsidianError('TIMEOUT', `The sync server sent nothing expected for ${timeoutMs} ms`))
        return
      }
      if (now - this.lastHeard > idleTimeoutMs) {
        this.fail(
          new ObsidianError('TIMEOUT', `The sync server sent nothing, not even a pong, for ${idleTimeoutMs} ms`)
        )
        return
      }
    }
    if (
      this.socket.readyState === WebSocket.OPEN &&
      now - this.lastHeard >= pingIntervalMs &&
      now - this.lastPing >= pingIntervalMs
    ) {
      this.lastPing = now
      this.send({ op: 'ping' })
    }
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure
  }

  /** Fails the session for an error that leaves its frames out of step; returns the error to throw. */
  private broken(err: ObsidianError): ObsidianError {
    this.fail(err)
    return err
  }

  private fail(err: ObsidianError): void {
    if (this.failure !== undefined) return
    this.failure = err
    clearInterval(this.timer)
    for (const waiter of [this.replyWaiter, this.pieceWaiter, this.pushWaiter]) waiter?.reject(err)
    this.replyWaiter = undefined
    this.pieceWaiter = undefined
    this.pushWaiter = undefined
    this.pieces.length = 0
    if (this.socket.readyState === WebSocket.CONNECTING || this.socket.readyState === WebSocket.OPEN)
      this.socket.terminate()
    if (err.code !== 'NETWORK' || err.message !== 'The session was closed')
      this.options.log.debug({ vaultId: this.options.vaultId, code: err.code }, 'vault session ended')
  }
}

/**
 * What an `init` refusal means: `{res: "err", msg}` and `{status: "err", msg}`
 * alike. The key was checked with /vault/access before, so a refusal is not
 * blamed on the password: known words get their code (a busy or maintenance
 * answer is retryable), any other is ACCESS_DENIED with the service's words.
 */
function initError(answer: Record<string, unknown>): ObsidianError {
  const said = String(answer.msg ?? answer.error ?? answer.message ?? '')
  if (answer.res !== 'err' && answer.status !== 'err')
    return new ObsidianError('PROTOCOL', 'The sync server did not answer init')
  const code = refusalCode(said)
  if (code === undefined || code === 'SERVICE_ERROR')
    return new ObsidianError(code ?? 'ACCESS_DENIED', `The sync server refused to open the vault: ${quote(said)}`)
  return new ObsidianError(
    code,
    `${REFUSAL_MESSAGES[code] ?? 'The sync server refused to open the vault'} (${quote(said)})`
  )
}
