/**
 * One WebSocket session with a vault's sync server:
 *
 *   -> {op: "init", token, id, keyhash, version, initial, device, encryption_version}
 *   <- {res: "ok", perFileMax} | {res: "err", msg} | {status: "err", msg}
 *   <- {op: "push", uid, path, hash, size, ctime, mtime, folder, deleted} …   every change after `version`
 *   <- {op: "ready", version}                                                  (with initial: the live files)
 *   -> {op: "pull", uid}   <- {size, pieces, deleted}, then `pieces` binary frames   (pull.ts)
 *   -> {op: "push", …}     <- an answer, then a piece and its answer at a time      (upload.ts)
 *   -> {op: "ping"}        <- {op: "pong"}                                     when idle
 *
 * Replies carry no id, so one pull or upload is in flight at a time (they
 * take turns); pushes and `ready` may arrive between its frames, and any
 * other message (whatever its `op`) is the answer to the request in flight.
 * Changes announced after `ready` (the echoes of this client's own uploads
 * among them) go to the listeners of `onChange` when there are any, else
 * they wait in the queue `pushes()` reads. Liveness as Obsidian's own
 * client keeps it: a ping after `pingIntervalMs` (10 s) without a message; the
 * connection is dead after `idleTimeoutMs` (120 s) without any message, pongs
 * included; a request (and each frame of its answer) times out after
 * `timeoutMs` (60 s); connecting and `init` may take `connectTimeoutMs` (2 min).
 */
import WebSocket from 'ws'
import { ObsidianError } from './errors.ts'
import { silentLog, type ClientLog } from './log.ts'
import { initError, MAX_TEXT_FRAME_BYTES, parseMessage, readPush, type Push, type PushEvent } from './messages.ts'
import { pullContent } from './pull.ts'
import { uploadItem, type UploadItem } from './upload.ts'
import { USER_AGENT } from './user-agent.ts'
import type { VaultCipher } from './vault-cipher.ts'
import { EchoWaits, type SessionWire } from './wire.ts'

export type { Push, PushEvent } from './messages.ts'

/** How a connection to a sync server behaves: its waits, its liveness, what it will pull, where it logs. */
export interface ConnectionLimits {
  /** Longest wait for the answer to a request, and for each next frame of it (default 60 s; REST calls 30 s at most). */
  timeoutMs?: number
  /** Time without a message before a WebSocket ping (default 10 s). */
  pingIntervalMs?: number
  /** Time without any message, pongs included, after which a WebSocket is dead (default 120 s). */
  idleTimeoutMs?: number
  /** Longest time to connect to a sync server and have `init` answered (default 2 min). */
  connectTimeoutMs?: number
  /** Largest file it pulls (default 1 GiB). */
  maxFileBytes?: number
  log?: ClientLog
}

export interface SessionOptions extends ConnectionLimits {
  url: string
  token: string
  vaultId: string
  cipher: VaultCipher
  /** The last version fully applied; 0 with `initial` for the vault's current files. */
  version: number
  initial: boolean
  device: string
}

const DEFAULT_TIMEOUT_MS = 60_000
const DEFAULT_CONNECT_TIMEOUT_MS = 120_000
/** What encryption adds to a file on the wire: the IV and the tag. */
const CONTENT_OVERHEAD = 12 + 16

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
  private readonly echoes = new EchoWaits()
  private readonly listeners = new Set<(event: PushEvent) => void>()
  /** Pulls and uploads take turns: each holds it until its last frame. */
  private turn: Promise<void> = Promise.resolve()
  private lastHeard = Date.now()
  private lastPing = Date.now()
  /** Until `init` is answered the wait is the connect timeout's, not a request's. */
  private connecting = true
  /** When the current wait for a reply, a piece or the next push began, or the last such frame came. */
  private waitingSince = Date.now()
  private readonly timer: NodeJS.Timeout
  private readonly wire: SessionWire

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
    this.wire = this.makeWire()
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
   * One file's plaintext, piece by piece, unverified until the iteration ends
   * without error (see pull.ts). Pulls and uploads queue behind each other;
   * abandoning a pull midway closes the session.
   */
  async *pull(push: Pick<Push, 'uid' | 'hash'>): AsyncGenerator<Buffer> {
    const release = await this.takeTurn()
    try {
      yield* pullContent(this.wire, push)
    } finally {
      release()
    }
  }

  /**
   * Uploads a file or a folder as Obsidian's client does (see upload.ts) and
   * returns the change as the server echoed it, its acknowledgement. A file's
   * content is read only when the server asks for it; an upload that fails
   * before its last piece closes the session, and the server stores nothing.
   */
  async upload(item: UploadItem): Promise<Push> {
    const release = await this.takeTurn()
    try {
      return await uploadItem(this.wire, item)
    } finally {
      release()
    }
  }

  /** Calls `listener` with every change announced after `ready` (this client's echoed uploads among them). */
  onChange(listener: (event: PushEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** True once the session has failed or been closed. */
  get closed(): boolean {
    return this.failure !== undefined
  }

  close(): void {
    this.fail(new ObsidianError('NETWORK', 'The session was closed'))
  }

  private send(message: Record<string, unknown>): void {
    this.socket.send(JSON.stringify(message))
  }

  private async takeTurn(): Promise<() => void> {
    const previous = this.turn
    let release!: () => void
    this.turn = new Promise(resolve => {
      release = resolve
    })
    await previous
    return release
  }

  /** What pull.ts and upload.ts see of the session. */
  private makeWire(): SessionWire {
    return {
      cipher: this.options.cipher,
      perFileMax: () => this.perFileMax,
      check: () => this.check(),
      exchange: async frame => await this.exchange(frame),
      nextPiece: async () => await this.nextPiece(),
      sizeLimit: () => this.sizeLimit(),
      broken: err => this.broken(err),
      expectPush: match => this.echoes.expect(match)
    }
  }

  /** The largest file a pull takes: ours, or the server's announced per-file limit when that is lower. */
  private sizeLimit(): [number, string] {
    // 0 is read as no limit announced rather than as "no file may have content".
    const server = !this.perFileMax ? Infinity : this.perFileMax + CONTENT_OVERHEAD
    return server < this.options.maxFileBytes
      ? [server, "the sync server's per-file limit"]
      : [this.options.maxFileBytes, 'the limit']
  }

  /** Sends a message, or a piece as a binary frame, and waits for the answer. */
  private async exchange(frame: Record<string, unknown> | Buffer): Promise<Record<string, unknown>> {
    this.check()
    const reply = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.replyWaiter = { resolve, reject }
    })
    this.waitingSince = Date.now()
    if (Buffer.isBuffer(frame)) this.socket.send(frame)
    else this.send(frame)
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
    const m = parseMessage(data)
    if (m instanceof ObsidianError) return this.fail(m)
    if (m.op !== 'pong') this.waitingSince = this.lastHeard
    switch (m.op) {
      case 'pong':
        return
      case 'push':
        this.onPush(readPush(m, this.options.cipher))
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

  private onPush(event: PushEvent): void {
    if (event.kind === 'push') this.echoes.offer(event.push)
    if (this.version !== undefined && this.listeners.size > 0) {
      for (const listener of this.listeners) listener(event)
      return
    }
    this.pushQueue.push(event)
    this.wakePushes()
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
      } else if (this.echoes.overdue(now, timeoutMs)) {
        this.fail(new ObsidianError('TIMEOUT', `The sync server did not echo an upload within ${timeoutMs} ms`))
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
    this.echoes.failAll(err)
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
