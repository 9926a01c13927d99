/**
 * A vault's keys, derived from its encryption password and salt, and what the
 * protocol encrypts with them:
 *
 *   key = scrypt(NFKC(password), NFKC(salt), N=32768, r=8, p=1, 32 bytes)
 *
 * Version 0: keyhash = hex(sha256(key)); content and paths are AES-256-GCM with
 * `key`, a path (or a file's `hash` field) being hex(iv || ciphertext || tag)
 * with iv = sha256(plaintext)[0..12], so equal paths encrypt equally.
 * Versions 2 and 3: keys come from HKDF-SHA256 over `key`: keyhash with the
 * salt and info "ObsidianKeyHash", the content key with no salt and
 * "ObsidianAesGcm", and paths are AES-256-SIV (no associated data) with the
 * 64-byte key HKDF(salt, "ObsidianAesSivMac") || HKDF(salt, "ObsidianAesSivEnc"),
 * a path being hex(siv || ciphertext).
 *
 * Content is iv(12) || AES-GCM ciphertext || tag(16); an empty file is 0
 * bytes. A file's `hash` field encrypts hex(sha256(plaintext)) as a path.
 */
import { createCipheriv, createDecipheriv, createHash, hkdf, randomBytes, scrypt, type DecipherGCM } from 'node:crypto'
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

const sha256 = (data: Buffer | string): Buffer => createHash('sha256').update(data).digest()

export interface VaultCipher {
  readonly encryptionVersion: number
  /** What the service checks the key against; not a secret on its own. */
  readonly keyhash: string
  encryptPath(plain: string): string
  /** The plain path; throws INTEGRITY when it does not decrypt. */
  decryptPath(encrypted: string): string
  /** iv || ciphertext || tag with a random IV (or the one given); empty stays empty. */
  encryptContent(plain: Buffer, iv?: Buffer): Buffer
  /** A decryptor for one file's content, fed piece by piece. */
  contentDecryptor(): ContentDecryptor
}

/**
 * Decrypts content that arrives in pieces: holds back only the IV and the last
 * 16 bytes (the tag), so a file never has to be whole in memory. Output is
 * unverified until `final` returns: nothing may be made visible before then.
 */
export class ContentDecryptor {
  private iv = Buffer.alloc(0)
  private tail = Buffer.alloc(0)
  private decipher: DecipherGCM | undefined
  private seen = 0

  constructor(private readonly key: Buffer) {}

  update(piece: Buffer): Buffer {
    this.seen += piece.length
    let data = piece
    if (this.decipher === undefined) {
      const need = IV_BYTES - this.iv.length
      this.iv = Buffer.concat([this.iv, data.subarray(0, need)])
      data = data.subarray(need)
      if (this.iv.length < IV_BYTES) return Buffer.alloc(0)
      this.decipher = createDecipheriv('aes-256-gcm', this.key, this.iv)
    }
    const joined = Buffer.concat([this.tail, data])
    const cut = Math.max(0, joined.length - TAG_BYTES)
    this.tail = joined.subarray(cut)
    return this.decipher.update(joined.subarray(0, cut))
  }

  /** The last plaintext bytes; throws INTEGRITY when the tag does not verify. */
  final(): Buffer {
    if (this.seen === 0) return Buffer.alloc(0)
    if (this.decipher === undefined || this.tail.length < TAG_BYTES) {
      throw new ObsidianError('INTEGRITY', 'File content is shorter than an IV and a tag')
    }
    this.decipher.setAuthTag(this.tail)
    try {
      return this.decipher.final()
    } catch (err) {
      throw new ObsidianError('INTEGRITY', 'File content failed its authentication tag', { cause: err })
    }
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

function fromHex(encrypted: string): Buffer {
  if (encrypted.length === 0 || encrypted.length % 2 !== 0 || !/^[0-9a-f]+$/i.test(encrypted)) {
    throw new ObsidianError('INTEGRITY', 'An encrypted path is not hex')
  }
  return Buffer.from(encrypted, 'hex')
}

function toText(plain: Buffer | undefined): string {
  if (plain === undefined)
    throw new ObsidianError('INTEGRITY', "An encrypted path does not decrypt with this vault's key")
  const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
  try {
    return text.decode(plain)
  } catch {
    throw new ObsidianError('INTEGRITY', 'A decrypted path is not UTF-8')
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
  const normalizedSalt = salt.normalize('NFKC')
  const key = await scryptAsync(password.normalize('NFKC'), normalizedSalt, 32, SCRYPT)
  const contentKey =
    (encryptionVersion === 0
      ? undefined
      : Buffer.from(await hkdfAsync('sha256', key, Buffer.alloc(0), 'ObsidianAesGcm', 32))) ?? key
  const decryptor = (): ContentDecryptor => new ContentDecryptor(contentKey)
  const encryptContent = (plain: Buffer, iv: Buffer = randomBytes(IV_BYTES)): Buffer =>
    plain.length === 0 ? Buffer.alloc(0) : gcmSeal(contentKey, iv, plain)

  if (encryptionVersion === 0) {
    return {
      encryptionVersion,
      keyhash: sha256(key).toString('hex'),
      encryptPath: plain =>
        gcmSeal(key, sha256(plain).subarray(0, IV_BYTES), Buffer.from(plain, 'utf8')).toString('hex'),
      decryptPath: encrypted => toText(gcmOpen(key, fromHex(encrypted))),
      encryptContent,
      contentDecryptor: decryptor
    }
  }
  const saltBytes = Buffer.from(normalizedSalt, 'utf8')
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
    encryptPath: plain => sivEncrypt(sivKey, Buffer.from(plain, 'utf8')).toString('hex'),
    decryptPath: encrypted => toText(sivDecrypt(sivKey, fromHex(encrypted))),
    encryptContent,
    contentDecryptor: decryptor
  }
}
