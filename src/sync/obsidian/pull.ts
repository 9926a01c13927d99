/**
 * Pulling one version of a file over a vault session:
 *
 *   -> {op: "pull", uid}   <- {size, pieces, deleted}, then `pieces` binary frames
 *
 * decrypted piece by piece; the tag and the hash are checked at the end.
 */
import { createHash } from 'node:crypto'
import { ObsidianError } from './errors.ts'
import type { Push } from './messages.ts'
import { quote } from './refusal.ts'
import type { SessionWire } from './wire.ts'

/**
 * One file's plaintext, piece by piece (at most a piece in memory), the
 * caller holding the session's turn. The pieces are unverified until the
 * iteration ends without error. Abandoning it midway closes the session. A
 * push with an empty `hash` has it set to the content's SHA-256 when the pull
 * ends verified.
 */
export async function* pullContent(wire: SessionWire, push: Pick<Push, 'uid' | 'hash'>): AsyncGenerator<Buffer> {
  let finished = false
  try {
    wire.check()
    const reply = await wire.exchange({ op: 'pull', uid: push.uid })
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
      throw wire.broken(
        new ObsidianError(
          'PROTOCOL',
          `The pull of version ${push.uid} was answered with a malformed size or piece count`
        )
      )
    }
    const [limit, whose] = wire.sizeLimit()
    if ((size as number) > limit) {
      throw wire.broken(
        new ObsidianError('TOO_LARGE', `Version ${push.uid} is ${size as number} bytes, over ${whose} of ${limit}`)
      )
    }
    const decryptor = wire.cipher.contentDecryptor(size as number)
    const digest = createHash('sha256')
    let received = 0
    for (let i = 0; i < (pieces as number); i++) {
      const piece = await wire.nextPiece()
      received += piece.length
      if (received > (size as number))
        throw wire.broken(new ObsidianError('PROTOCOL', `Version ${push.uid} sent more bytes than its size`))
      const plain = decryptor.update(piece)
      digest.update(plain)
      if (plain.length > 0) yield plain
    }
    if (received !== size)
      throw wire.broken(
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
      wire.broken(new ObsidianError('PROTOCOL', 'A pull was abandoned before its end; the session was closed'))
  }
}
