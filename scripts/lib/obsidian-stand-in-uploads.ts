/**
 * What the Obsidian stand-in does with writes, modelled on what the official
 * client sends and expects:
 *
 * - `/vault/create {token, name, keyhash, salt, region?, encryption_version}`:
 *   end-to-end encryption sends the keyhash of its password and a fresh salt;
 *   standard encryption sends neither, and the service makes a password and a
 *   salt of its own, which the vault list then carries.
 * - `push {path, relatedpath, extension, hash, ctime, mtime, folder, deleted,
 *   size, pieces}`: answered `{res: "ok"}` when the service needs no content
 *   (a folder, a deletion, an empty file, or content it already holds under
 *   that encrypted hash); otherwise with another answer, after which the
 *   client sends `pieces` binary frames of 2 MiB (the last one the rest), each
 *   answered in turn. Once the content is whole the change is stored, echoed
 *   as a `push` to every connection on the vault (the sender's included) and
 *   the last piece answered `{res: "ok"}`. An upload cut off midway stores
 *   nothing.
 */
import { randomBytes } from 'node:crypto'
import type { WebSocket } from 'ws'
import { vaultCipher } from '../../src/sync/obsidian/vault-cipher.ts'
import { FakeVault, PIECE_BYTES, pushMessage, type FakeRecord } from './obsidian-stand-in-vault.ts'

/** Where the stand-in cuts a push's connection, on cue: on its metadata, after its first piece, or once it is stored. */
export type PushDropPoint = 'metadata' | 'piece' | 'stored'

/** Every push the stand-in stored, by vault: the metadata as the client sent it. */
export type ReceivedPushes = Map<string, Array<Record<string, unknown>>>

/** How many pushes the service stored per path of a vault (the path encrypted, as the service sees it). */
export function pushCounts(received: ReceivedPushes, vaultId: string): Map<string, number> {
  const counts = new Map<string, number>()
  for (const m of received.get(vaultId) ?? []) counts.set(m.path as string, (counts.get(m.path as string) ?? 0) + 1)
  return counts
}

const HEX = /^(?:[0-9a-f]{2})+$/
const KEYHASH = /^[0-9a-f]{64}$/
/** What content encryption adds to a file: the IV and the tag. */
const CONTENT_OVERHEAD = 12 + 16

const isHex = (value: unknown): value is string => typeof value === 'string' && HEX.test(value)
const isTime = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) >= 0
const isCount = isTime

/**
 * A new vault, as `/vault/create` makes it: the answer (an error, or the
 * vault's entry) and the vault. Only version 3 is created, as today's
 * official client creates it.
 */
export async function createVault(body: Record<string, unknown>): Promise<{ error: string } | { vault: FakeVault }> {
  const name = body.name
  if (typeof name !== 'string' || name.trim() === '' || name.length > 1024) return { error: 'Invalid vault name' }
  if (body.encryption_version !== 3) return { error: 'Unsupported encryption version' }
  const id = randomBytes(16).toString('hex')
  const standard = (body.keyhash ?? '') === '' && (body.salt ?? '') === ''
  if (standard) {
    const password = randomBytes(24).toString('base64url')
    const salt = randomBytes(16).toString('hex')
    const cipher = await vaultCipher(password, salt, 3)
    const vault = new FakeVault(id, name, salt, 3, cipher.keyhash, cipher)
    vault.listedPassword = password
    return { vault }
  }
  if (typeof body.keyhash !== 'string' || !KEYHASH.test(body.keyhash)) return { error: 'Invalid keyhash' }
  if (typeof body.salt !== 'string' || body.salt === '' || body.salt.length > 1024) return { error: 'Invalid salt' }
  // End-to-end: the service never learns the password, so its vault has no cipher.
  return { vault: new FakeVault(id, name, body.salt, 3, body.keyhash) }
}

export interface UploadDeps {
  /** The connection's vault, once `init` accepted it. */
  vault: () => FakeVault | undefined
  socket: WebSocket
  /** Every connection open on the vault, this one included. */
  peers: (vaultId: string) => Iterable<WebSocket>
  settings: { perFileMax: number; echo: 'before-answer' | 'after-answer' }
  received: ReceivedPushes
  /** True when a cue says to cut the connection at this point of a push (the cue is then used up). */
  drop: (at: PushDropPoint) => boolean
  /** True when a cue says to store the next push and answer it, but echo it to nobody. */
  loseEcho: () => boolean
}

/** One connection's uploads: at most one push in progress, its pieces counted and checked as they come. */
export class UploadReceiver {
  private pending: { message: Record<string, unknown>; pieces: Buffer[]; expected: number; size: number } | undefined

  constructor(private readonly deps: UploadDeps) {}

  /** True while a push waits for its pieces: nothing but pieces (and pings) may come. */
  get receiving(): boolean {
    return this.pending !== undefined
  }

  push(message: Record<string, unknown>): void {
    const vault = this.deps.vault()
    if (vault === undefined) return this.deps.socket.terminate()
    if (this.deps.drop('metadata')) return this.deps.socket.terminate()
    const problem = malformed(message)
    if (problem !== undefined) return this.answer({ err: problem })
    if (message.folder === true || message.deleted === true) return this.store(vault, message, Buffer.alloc(0))
    const size = message.size as number
    if (size > this.deps.settings.perFileMax + CONTENT_OVERHEAD) return this.answer({ err: 'File is too large' })
    const held = vault.records.find(r => !r.deleted && !r.folder && r.encHash === message.hash && r.size === size)
    if (size === 0 || held !== undefined) {
      const content = held === undefined ? Buffer.alloc(0) : contentOf(held)
      return this.store(vault, message, content)
    }
    this.pending = { message, pieces: [], expected: message.pieces as number, size }
    this.answer({ res: 'next' })
  }

  piece(data: Buffer): void {
    const vault = this.deps.vault()
    const pending = this.pending
    if (vault === undefined || pending === undefined) return this.deps.socket.terminate()
    const offset = pending.pieces.length * PIECE_BYTES
    // Each piece is 2 MiB, the last one the rest: anything else is a client out of step.
    if (data.length !== Math.min(PIECE_BYTES, pending.size - offset)) return this.deps.socket.terminate()
    pending.pieces.push(Buffer.from(data))
    if (pending.pieces.length === 1 && this.deps.drop('piece')) return this.deps.socket.terminate()
    if (pending.pieces.length < pending.expected) return this.answer({ res: 'next' })
    this.pending = undefined
    this.store(vault, pending.message, Buffer.concat(pending.pieces))
  }

  private store(vault: FakeVault, message: Record<string, unknown>, content: Buffer): void {
    const folder = message.folder === true
    const deleted = message.deleted === true
    const record = vault.add({
      encPath: message.path as string,
      encHash: folder || deleted ? '' : (message.hash as string),
      folder,
      deleted,
      ctime: message.ctime as number,
      mtime: message.mtime as number,
      content,
      size: content.length,
      ...(message.relatedpath === null ? {} : { relatedPath: message.relatedpath as string })
    })
    this.deps.received.set(vault.id, [...(this.deps.received.get(vault.id) ?? []), message])
    if (this.deps.drop('stored')) return this.deps.socket.terminate()
    const echo = pushMessage(record, 'restorer')
    const lost = this.deps.loseEcho()
    const broadcast = (): void => {
      if (!lost) for (const peer of this.deps.peers(vault.id)) peer.send(echo)
    }
    if (this.deps.settings.echo === 'before-answer') broadcast()
    this.answer({ res: 'ok' })
    if (this.deps.settings.echo === 'after-answer') broadcast()
  }

  private answer(message: Record<string, unknown>): void {
    this.deps.socket.send(JSON.stringify(message))
  }
}

const contentOf = (record: FakeRecord): Buffer =>
  typeof record.content === 'function' ? record.content() : record.content

/** What is wrong with a push's metadata, as the official client would never send it; undefined when nothing. */
function malformed(m: Record<string, unknown>): string | undefined {
  if (!isHex(m.path)) return 'Invalid path'
  if (m.relatedpath !== null && !isHex(m.relatedpath)) return 'Invalid related path'
  if (typeof m.extension !== 'string' || typeof m.folder !== 'boolean' || typeof m.deleted !== 'boolean')
    return 'Invalid push'
  if (!isTime(m.ctime) || !isTime(m.mtime)) return 'Invalid time'
  if (m.folder === true || m.deleted === true) return m.hash === '' || m.hash === undefined ? undefined : 'Invalid hash'
  if (!isHex(m.hash)) return 'Invalid hash'
  if (!isCount(m.size) || !isCount(m.pieces)) return 'Invalid size'
  if (m.pieces !== Math.ceil((m.size as number) / PIECE_BYTES)) return 'Invalid piece count'
  return undefined
}
