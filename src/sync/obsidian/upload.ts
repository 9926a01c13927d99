/**
 * Uploading a file or a folder to a vault, as Obsidian's official client does:
 *
 *   -> {op: "push", path, relatedpath: null, extension, hash, ctime, mtime, folder, deleted: false, size, pieces}
 *   <- {res: "ok"}             the server needs no content (a folder, an empty file, content it holds): sent
 *   <- {err: "…"}              refused, in the server's words
 *   <- anything else           the content follows: `pieces` binary frames of 2 MiB (the last one the rest),
 *                              each answered before the next goes
 *   <- {op: "push", uid, …}    the change stored, echoed to every client on the vault: the acknowledgement
 *
 * `path`, and `hash` (hex of the plaintext's SHA-256), are encrypted as paths
 * are; `extension` is the lowercased one of the name; `size` is the content's
 * encrypted length (0 for an empty file, which sends no piece). A folder
 * sends an empty hash, no size and no pieces. The content is encrypted as it
 * is read, a piece at a time, and checked against its size and SHA-256 before
 * its last piece goes: an upload whose source turns out wrong, or that is cut
 * off, never completes, so the server stores nothing of it.
 */
import { createHash } from 'node:crypto'
import { ObsidianError } from './errors.ts'
import { refusalOf, type Push } from './messages.ts'
import { quote, refusalCode } from './refusal.ts'
import { encryptedSize, type VaultCipher } from './vault-cipher.ts'
import type { SessionWire } from './wire.ts'

/** Bytes per piece of an upload, as the official client cuts them. */
export const PIECE_BYTES = 2 * 1024 * 1024

/** A file's plaintext: whole, or a stream of chunks (a Readable). */
export type UploadSource = Buffer | AsyncIterable<Buffer | Uint8Array | string>

export interface UploadFolder {
  folder: true
  path: string
}

export interface UploadFile {
  folder?: false
  path: string
  /** Milliseconds since the epoch (rounded up to whole ones, as the official client sends them). */
  ctime: number
  mtime: number
  /** Bytes of plaintext. */
  size: number
  /** hex(sha256(plaintext)). */
  sha256: string
  /** The plaintext; opened only once the server asks for it. */
  open: () => Promise<UploadSource>
}

export type UploadItem = UploadFile | UploadFolder

const SHA256 = /^[0-9a-f]{64}$/

/** The extension as the official client sends it: the name's, lowercased; none for `.name`, `name.` or `name`. */
export function extensionOf(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1)
  const dot = name.lastIndexOf('.')
  return dot <= 0 || dot === name.length - 1 ? '' : name.slice(dot + 1).toLowerCase()
}

/** Uploads one item over the session (the caller holding its turn); returns the change as the server echoed it. */
export async function uploadItem(wire: SessionWire, item: UploadItem): Promise<Push> {
  wire.check()
  const path = wire.cipher.encryptPath(item.path)
  if (item.folder === true) {
    const isEcho = (p: Push): boolean => p.folder && !p.deleted && p.path === item.path
    return await acknowledged(wire, isEcho, async () => {
      const meta = { path, relatedpath: null, extension: '', hash: '', ctime: 0, mtime: 0, folder: true }
      refuse(item.path, await wire.exchange({ op: 'push', ...meta, deleted: false }))
    })
  }
  checkFile(item, wire.perFileMax())
  const ctime = Math.ceil(item.ctime)
  const mtime = Math.ceil(item.mtime)
  const size = encryptedSize(item.size)
  const pieces = Math.ceil(size / PIECE_BYTES)
  const isEcho = (p: Push): boolean =>
    !p.folder && !p.deleted && p.path === item.path && p.hash === item.sha256 && p.mtime === mtime
  return await acknowledged(wire, isEcho, async () => {
    const answer = await wire.exchange({
      op: 'push',
      path,
      relatedpath: null,
      extension: extensionOf(item.path),
      hash: wire.cipher.encryptHash(item.sha256),
      ctime,
      mtime,
      folder: false,
      deleted: false,
      size,
      pieces
    })
    refuse(item.path, answer)
    if (answer.res !== 'ok' && pieces > 0) await sendContent(wire, item, size)
  })
}

/** Sends what `send` sends, then waits for the server's echo of it (which may have come before the last answer). */
async function acknowledged(wire: SessionWire, isEcho: (p: Push) => boolean, send: () => Promise<void>): Promise<Push> {
  const echo = wire.expectPush(isEcho)
  try {
    await send()
    return await echo.wait()
  } finally {
    echo.cancel()
  }
}

function refuse(path: string, answer: Record<string, unknown>): void {
  const said = refusalOf(answer)
  if (said === undefined) return
  const code = refusalCode(said)
  throw new ObsidianError(
    code === undefined || code === 'SERVICE_ERROR' ? 'REFUSED' : code,
    `The sync server refused the upload of ${quote(path)}: ${quote(said)}`
  )
}

function checkFile(file: UploadFile, perFileMax: number | undefined): void {
  const times = [file.ctime, file.mtime]
  if (!Number.isSafeInteger(file.size) || file.size < 0 || !times.every(t => Number.isFinite(t) && t >= 0))
    throw new RangeError(`${quote(file.path)} has a malformed size or time`)
  if (!SHA256.test(file.sha256)) throw new RangeError(`${quote(file.path)} has a hash that is not a SHA-256`)
  // 0 is read as no limit announced, as a pull reads it.
  if (perFileMax && file.size > perFileMax)
    throw new ObsidianError(
      'TOO_LARGE',
      `${quote(file.path)} is ${file.size} bytes, over the sync server's per-file limit of ${perFileMax}`
    )
}

/** Each piece, and its answer before the next; an upload left before its last piece closes the session. */
async function sendContent(wire: SessionWire, file: UploadFile, size: number): Promise<void> {
  let finished = false
  try {
    for await (const piece of encryptedPieces(wire.cipher, file, size)) {
      const said = refusalOf(await wire.exchange(piece))
      if (said !== undefined)
        throw wire.broken(
          new ObsidianError('REFUSED', `The sync server refused a piece of ${quote(file.path)}: ${quote(said)}`)
        )
    }
    finished = true
  } finally {
    // The server still expects pieces: whatever came next would be taken for one.
    if (!finished)
      wire.broken(new ObsidianError('PROTOCOL', 'An upload was cut off before its last piece; the session was closed'))
  }
}

/** The encrypted content in pieces; the last one goes only once the plaintext matched its size and SHA-256. */
async function* encryptedPieces(cipher: VaultCipher, file: UploadFile, size: number): AsyncGenerator<Buffer> {
  const encryptor = cipher.contentEncryptor()
  const digest = createHash('sha256')
  const cutter = new PieceCutter(size)
  let read = 0
  for await (const chunk of chunksOf(await file.open())) {
    read += chunk.length
    if (read > file.size)
      throw new ObsidianError('INTEGRITY', `${quote(file.path)} is longer than its size of ${file.size} bytes`)
    digest.update(chunk)
    yield* cutter.cut(encryptor.update(chunk))
  }
  if (read < file.size)
    throw new ObsidianError('INTEGRITY', `${quote(file.path)} is ${read} bytes, not its size of ${file.size}`)
  if (digest.digest('hex') !== file.sha256)
    throw new ObsidianError('INTEGRITY', `${quote(file.path)} does not match its SHA-256`)
  // The tag comes from `final`, and ends the last piece: no piece before could have been the last.
  yield* cutter.cut(encryptor.final())
}

async function* chunksOf(source: UploadSource): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(source)) {
    for (let at = 0; at < source.length; at += PIECE_BYTES) yield source.subarray(at, at + PIECE_BYTES)
    return
  }
  for await (const chunk of source) yield typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk)
}

/** Cuts a stream of `total` bytes into pieces of PIECE_BYTES, the last one the rest. */
class PieceCutter {
  private piece: Buffer
  private filled = 0
  private left: number

  constructor(total: number) {
    this.left = total
    this.piece = Buffer.allocUnsafe(Math.min(PIECE_BYTES, total))
  }

  *cut(bytes: Buffer): Generator<Buffer> {
    for (let offset = 0; offset < bytes.length;) {
      if (this.piece.length === 0) throw new ObsidianError('PROTOCOL', 'An upload made more bytes than its size')
      const copied = bytes.copy(this.piece, this.filled, offset)
      offset += copied
      this.filled += copied
      if (this.filled < this.piece.length) continue
      const full = this.piece
      this.left -= full.length
      this.piece = Buffer.allocUnsafe(Math.min(PIECE_BYTES, this.left))
      this.filled = 0
      yield full
    }
  }
}
