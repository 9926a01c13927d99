/** What a pull (pull.ts) or an upload (upload.ts) sees of a vault session, and the echoes an upload awaits. */
import type { ObsidianError } from './errors.ts'
import type { Push } from './messages.ts'
import type { VaultCipher } from './vault-cipher.ts'

/** The session, to one transfer holding its turn. */
export interface SessionWire {
  readonly cipher: VaultCipher
  /** The server's per-file limit, as `init` announced it. */
  perFileMax(): number | undefined
  /** Throws why the session ended, if it has. */
  check(): void
  /** Sends a message, or a piece as a binary frame, and waits for the answer. */
  exchange(frame: Record<string, unknown> | Buffer): Promise<Record<string, unknown>>
  nextPiece(): Promise<Buffer>
  /** The largest file a pull takes, and whose limit that is. */
  sizeLimit(): [number, string]
  /** Fails the session for an error that leaves its frames out of step; returns the error to throw. */
  broken(err: ObsidianError): ObsidianError
  /** The first change announced from now on that `match` accepts. */
  expectPush(match: (push: Push) => boolean): EchoWait
}

/**
 * A change awaited, registered before the request that causes it (its echo
 * may come before that request's answer). `wait` starts the request timeout;
 * the session failing rejects it; `cancel` forgets it.
 */
export interface EchoWait {
  wait(): Promise<Push>
  cancel(): void
}

interface PendingEcho {
  match: (push: Push) => boolean
  resolve: (push: Push) => void
  reject: (err: Error) => void
  /** When `wait` was called: from then on the request timeout runs. */
  since: number | undefined
}

/** The changes a session's uploads await, until each comes, times out or the session fails. */
export class EchoWaits {
  private readonly pending = new Set<PendingEcho>()
  private failure: ObsidianError | undefined

  expect(match: (push: Push) => boolean): EchoWait {
    let pending!: PendingEcho
    const promise = new Promise<Push>((resolve, reject) => {
      pending = { match, resolve, reject, since: undefined }
    })
    // Rejected by a failure before anyone waits: not an unhandled rejection.
    promise.catch(() => {})
    if (this.failure !== undefined) pending.reject(this.failure)
    else this.pending.add(pending)
    return {
      wait: async () => {
        pending.since = Date.now()
        return await promise
      },
      cancel: () => {
        this.pending.delete(pending)
      }
    }
  }

  /** A change the server announced: the first wait it matches is over. */
  offer(push: Push): void {
    for (const pending of this.pending) {
      if (!pending.match(push)) continue
      this.pending.delete(pending)
      pending.resolve(push)
      return
    }
  }

  /** True when a wait has lasted longer than `timeoutMs`. */
  overdue(now: number, timeoutMs: number): boolean {
    return [...this.pending].some(p => p.since !== undefined && now - p.since > timeoutMs)
  }

  failAll(err: ObsidianError): void {
    this.failure = err
    for (const pending of this.pending) pending.reject(err)
    this.pending.clear()
  }
}
