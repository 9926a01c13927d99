/** What a sync server's messages mean: a frame's JSON, a change it announces, a refusal. */
import { ObsidianError } from './errors.ts'
import { quote, REFUSAL_MESSAGES, refusalCode } from './refusal.ts'
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

const HASH = /^[0-9a-f]{64}$/

/** Text frames (JSON) are small; a binary frame is a piece, which may be as large as its file. */
export const MAX_TEXT_FRAME_BYTES = 4 * 1024 * 1024

/** A text frame's message: a JSON object, or the error that it is not one. */
export function parseMessage(data: Buffer): Record<string, unknown> | ObsidianError {
  if (data.length > MAX_TEXT_FRAME_BYTES)
    return new ObsidianError('TOO_LARGE', `The sync server sent a message over ${MAX_TEXT_FRAME_BYTES} bytes`)
  let message: unknown
  try {
    message = JSON.parse(data.toString('utf8'))
  } catch {
    return new ObsidianError('PROTOCOL', 'The sync server sent a text frame that is not JSON')
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message))
    return new ObsidianError('PROTOCOL', 'The sync server sent JSON that is not an object')
  return message as Record<string, unknown>
}

/** A `push` message, checked and decrypted. */
export function readPush(m: Record<string, unknown>, cipher: VaultCipher): PushEvent {
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
    const path = cipher.decryptPath(m.path)
    let hash = ''
    if (!folder && !deleted) {
      if (typeof m.hash !== 'string') return unreadable(`Push ${uid} has no hash`)
      if (m.hash !== '') hash = cipher.decryptHash(m.hash)
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

/**
 * What an `init` refusal means: `{res: "err", msg}` and `{status: "err", msg}`
 * alike. The key was checked with /vault/access before, so a refusal is not
 * blamed on the password: known words get their code (a busy or maintenance
 * answer is retryable), any other is ACCESS_DENIED with the service's words.
 */
export function initError(answer: Record<string, unknown>): ObsidianError {
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

/** The service's words when an answer refuses a request (`{err}`, `{error}`, `{res|status: "err"}`); else undefined. */
export function refusalOf(reply: Record<string, unknown>): string | undefined {
  if (typeof reply.err === 'string' && reply.err !== '') return reply.err
  if (typeof reply.error === 'string' && reply.error !== '') return reply.error
  if (reply.res === 'err' || reply.status === 'err') return String(reply.msg ?? reply.message ?? '')
  return undefined
}
