/**
 * A vault's keys, derived from its encryption password and salt, and what the
 * protocol encrypts with them:
 *
 *   key = scrypt(NFKC(password), NFKC(salt), N=32768, r=8, p=1, 32 bytes)
 *
 * The password is the one the vault's owner chose (end-to-end encryption), or,
 * for a vault with standard (managed) encryption, the one the service lists
 * beside the salt: the key comes from either the same way.
 *
 * Version 0: keyhash = hex(sha256(key)); content and paths are AES-256-GCM with
 * `key`, a path (or a file's `hash` field) being hex(iv || ciphertext || tag)
 * with iv = sha256(plaintext)[0..12], so equal paths encrypt equally.
 * Versions 2 and 3: keys come from HKDF-SHA256 over `key`: keyhash with the
 * salt and info "ObsidianKeyHash", the content key with no salt and
 * "ObsidianAesGcm", and paths are AES-256-SIV (no associated data, the CTR
 * step as Obsidian's client runs it: see aes-siv.ts) with the 64-byte key
 * HKDF(salt, "ObsidianAesSivMac") || HKDF(salt, "ObsidianAesSivEnc"), a path
 * being hex(siv || ciphertext). HKDF takes the salt's own UTF-8 bytes: only
 * scrypt normalizes.
 *
 * Content is iv(12) || AES-GCM ciphertext || tag(16); an empty file is 0
 * bytes, or 12 (an IV and nothing else). A file's `hash` field encrypts
 * hex(sha256(plaintext)) as a path. A decrypted path loses a leading BOM.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  hkdf,
  randomBytes,
  scrypt,
  type CipherGCM,
  type DecipherGCM
} from 'node:crypto'
import { promisify } from 'node:util'
import { sivDecrypt, sivEncrypt } from './aes-siv.ts'
import { ObsidianError } from './errors.ts'

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: string,
  keylen: number,
  options: object
) => Promise<Buffer>
const hkdfAsync = promisify(hkdf)

export const SUPPORTED_ENCRYPTION_VERSIONS = [0, 2, 3] as const
const IV_BYTES = 12
const TAG_BYTES = 16
// N=32768, r=8 needs 32 MiB; Node's default ceiling is exactly that, so give it room.
const SCRYPT = { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }

const EMPTY = Buffer.alloc(0)

const sha256 = (data: Buffer | string): Buffer => createHash('sha256').update(data).digest()

export interface VaultCipher {
  readonly encryptionVersion: number
  /** What the service checks the key against; not a secret on its own. */
  readonly keyhash: string
  encryptPath(plain: string): string
  /** A file's `hash` field: hex(sha256(plaintext)), encrypted as a path is. */
  encryptHash(sha256Hex: string): string
  /** The plain path; throws INTEGRITY, saying it was a path, when it does not decrypt. */
  decryptPath(encrypted: string): string
  /** A file's `hash` field, decrypted; throws INTEGRITY, saying it was a hash field, when it does not decrypt. */
  decryptHash(encrypted: string): string
  /** iv || ciphertext || tag with a random IV (or the one given); empty stays empty. */
  encryptContent(plain: Buffer, iv?: Buffer): Buffer
  /** A decryptor for one file's content of `size` bytes on the wire, fed piece by piece. */
  contentDecryptor(size: number): ContentDecryptor
  /** An encryptor for one non-empty file's content, fed piece by piece, with a random IV (or the one given). */
  contentEncryptor(iv?: Buffer): ContentEncryptor
}

/** What a file of `plainBytes` bytes is on the wire: an empty file is nothing, any other gains an IV and a tag. */
export const encryptedSize = (plainBytes: number): number => (plainBytes === 0 ? 0 : plainBytes + IV_BYTES + TAG_BYTES)

/**
 * Encrypts content that is read in pieces: the IV comes out first, then the
 * ciphertext as it is made, and the tag last, from `final`, so a file never
 * has to be whole in memory. An empty file is not encrypted at all (it is 0
 * bytes on the wire, as Obsidian's client sends it).
 */
export class ContentEncryptor {
  private readonly cipher: CipherGCM
  private started = false

  constructor(
    key: Buffer,
    private readonly iv: Buffer = randomBytes(IV_BYTES)
  ) {
    this.cipher = createCipheriv('aes-256-gcm', key, iv)
  }

  update(plain: Buffer): Buffer {
    const out = this.cipher.update(plain)
    if (this.started) return out
    this.started = true
    return Buffer.concat([this.iv, out])
  }

  /** The last ciphertext bytes and the tag (and the IV, if nothing was fed). */
  final(): Buffer {
    const head = this.started ? [] : [this.iv]
    this.started = true
    return Buffer.concat([...head, this.cipher.final(), this.cipher.getAuthTag()])
  }
}

/**
 * Decrypts content that arrives in pieces, its length on the wire known: the
 * IV is the first 12 bytes and the tag the last 16, so every byte between goes
 * straight to the cipher, without gathering or copying pieces, and a file
 * never has to be whole in memory. Output is unverified until `final`
 * returns: nothing may be made visible before then.
 */
export class ContentDecryptor {
  private readonly iv = Buffer.alloc(IV_BYTES)
  private readonly tag = Buffer.alloc(TAG_BYTES)
  private decipher: DecipherGCM | undefined
  private seen = 0

  /** `size`: the content's bytes on the wire, IV and tag included. */
  constructor(
    private readonly key: Buffer,
    private readonly size: number
  ) {}

  update(piece: Buffer): Buffer {
    const start = this.seen
    this.seen += piece.length
    if (this.seen > this.size) throw new ObsidianError('PROTOCOL', 'File content is longer than its size')
    if (this.size < IV_BYTES + TAG_BYTES) return EMPTY
    const tagStart = this.size - TAG_BYTES
    if (start < IV_BYTES) piece.copy(this.iv, start, 0, Math.min(piece.length, IV_BYTES - start))
    if (this.seen > tagStart) piece.copy(this.tag, Math.max(0, start - tagStart), Math.max(0, tagStart - start))
    const from = Math.max(IV_BYTES, start) - start
    const to = Math.min(tagStart, this.seen) - start
    if (to <= from) return EMPTY
    return this.cipher().update(piece.subarray(from, to))
  }

  /** The last plaintext bytes; throws INTEGRITY when the tag does not verify. */
  final(): Buffer {
    if (this.seen < this.size) throw new ObsidianError('PROTOCOL', 'File content ended before its size')
    // Obsidian's client writes an empty file as nothing, or as an IV and nothing else.
    if (this.size === 0 || this.size === IV_BYTES) return EMPTY
    if (this.size < IV_BYTES + TAG_BYTES) {
      throw new ObsidianError('INTEGRITY', 'File content is shorter than an IV and a tag')
    }
    const decipher = this.cipher()
    decipher.setAuthTag(this.tag)
    try {
      return decipher.final()
    } catch (err) {
      throw new ObsidianError('INTEGRITY', 'File content failed its authentication tag', { cause: err })
    }
  }

  private cipher(): DecipherGCM {
    return (this.decipher ??= createDecipheriv('aes-256-gcm', this.key, this.iv))
  }
}

function gcmSeal(key: Buffer, iv: Buffer, plain: Buffer): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  return Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()])
}

function gcmOpen(key: Buffer, sealed: Buffer): Buffer | undefined {
  if (sealed.length < IV_BYTES + TAG_BYTES) return undefined
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES))
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES))
  try {
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()])
  } catch {
    return undefined
  }
}

/** What an encrypted name is, for messages: a file's path, or its `hash` field. */
type Field = 'path' | 'hash field'

function fromHex(encrypted: string, field: Field): Buffer {
  if (encrypted.length === 0 || encrypted.length % 2 !== 0 || !/^[0-9a-f]+$/i.test(encrypted)) {
    throw new ObsidianError('INTEGRITY', `An encrypted ${field} is not hex`)
  }
  return Buffer.from(encrypted, 'hex')
}

/**
 * The key was checked with the service before any of this is read, so a
 * field that does not authenticate is that field's fault (damaged, or written
 * by a cipher this client does not know), not the key's: the message says
 * which field, and does not send anyone to change a password.
 */
function toText(plain: Buffer | undefined, field: Field): string {
  if (plain === undefined)
    throw new ObsidianError('INTEGRITY', `An encrypted ${field} does not decrypt: its authentication check fails`)
  // ignoreBOM false: a leading BOM is dropped, as Obsidian's client drops it.
  const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })
  try {
    return text.decode(plain)
  } catch {
    throw new ObsidianError('INTEGRITY', `A decrypted ${field} is not UTF-8`)
  }
}

/** The vault's cipher; rejects encryption versions it does not know. */
export async function vaultCipher(password: string, salt: string, encryptionVersion: number): Promise<VaultCipher> {
  if (!(SUPPORTED_ENCRYPTION_VERSIONS as readonly number[]).includes(encryptionVersion)) {
    throw new ObsidianError(
      'UNSUPPORTED_ENCRYPTION',
      `Encryption version ${encryptionVersion} is not supported (only ${SUPPORTED_ENCRYPTION_VERSIONS.join(', ')})`
    )
  }
  const key = await scryptAsync(password.normalize('NFKC'), salt.normalize('NFKC'), 32, SCRYPT)
  const contentKey =
    (encryptionVersion === 0
      ? undefined
      : Buffer.from(await hkdfAsync('sha256', key, Buffer.alloc(0), 'ObsidianAesGcm', 32))) ?? key
  const decryptor = (size: number): ContentDecryptor => new ContentDecryptor(contentKey, size)
  const encryptContent = (plain: Buffer, iv: Buffer = randomBytes(IV_BYTES)): Buffer =>
    plain.length === 0 ? Buffer.alloc(0) : gcmSeal(contentKey, iv, plain)
  const encryptor = (iv?: Buffer): ContentEncryptor => new ContentEncryptor(contentKey, iv)

  if (encryptionVersion === 0) {
    return {
      encryptionVersion,
      keyhash: sha256(key).toString('hex'),
      ...pathCipher(
        plain => gcmSeal(key, sha256(plain).subarray(0, IV_BYTES), Buffer.from(plain, 'utf8')),
        encrypted => gcmOpen(key, encrypted)
      ),
      encryptContent,
      contentDecryptor: decryptor,
      contentEncryptor: encryptor
    }
  }
  const saltBytes = Buffer.from(salt, 'utf8')
  const derive = async (info: string): Promise<Buffer> =>
    Buffer.from(await hkdfAsync('sha256', key, saltBytes, info, 32))
  const [keyhash, sivMac, sivEnc] = await Promise.all([
    derive('ObsidianKeyHash'),
    derive('ObsidianAesSivMac'),
    derive('ObsidianAesSivEnc')
  ])
  const sivKey = Buffer.concat([sivMac, sivEnc])
  return {
    encryptionVersion,
    keyhash: keyhash.toString('hex'),
    ...pathCipher(
      plain => sivEncrypt(sivKey, Buffer.from(plain, 'utf8')),
      encrypted => sivDecrypt(sivKey, encrypted)
    ),
    encryptContent,
    contentDecryptor: decryptor,
    contentEncryptor: encryptor
  }
}

/** Paths and hash fields: the same deterministic cipher, in hex, each error naming which of the two failed. */
function pathCipher(
  seal: (plain: string) => Buffer,
  open: (encrypted: Buffer) => Buffer | undefined
): Pick<VaultCipher, 'encryptPath' | 'encryptHash' | 'decryptPath' | 'decryptHash'> {
  const encryptPath = (plain: string): string => seal(plain).toString('hex')
  return {
    encryptPath,
    encryptHash: encryptPath,
    decryptPath: encrypted => toText(open(fromHex(encrypted, 'path')), 'path'),
    decryptHash: encrypted => toText(open(fromHex(encrypted, 'hash field')), 'hash field')
  }
}
