/**
 * A vault of the Obsidian stand-in: its records (ciphertext only), as the
 * service keeps them, and the push message that announces one. Shared by the
 * stand-in's reads (obsidian-stand-in.ts) and its writes
 * (obsidian-stand-in-uploads.ts).
 */
import { createHash, randomBytes } from 'node:crypto'
import type { VaultCipher } from '../../src/sync/obsidian/vault-cipher.ts'

export const PIECE_BYTES = 2 * 1024 * 1024

/** One version of one path, as the service keeps it: encrypted. */
export interface FakeRecord {
  uid: number
  encPath: string
  encHash: string
  folder: boolean
  deleted: boolean
  ctime: number
  mtime: number
  /** The encrypted content, or a function making it when pulled (large vaults need not sit in memory). */
  content: Buffer | (() => Buffer)
  size: number
  /** A rename's new path names the old one (encrypted), as the official client pushes it. */
  relatedPath?: string
}

/** A record as the service announces it: a `push` message. */
export function pushMessage(record: FakeRecord, device: string): string {
  return JSON.stringify({
    op: 'push',
    uid: record.uid,
    path: record.encPath,
    hash: record.encHash,
    size: record.size,
    ctime: record.ctime,
    mtime: record.mtime,
    folder: record.folder,
    deleted: record.deleted,
    ...(record.relatedPath === undefined ? {} : { relatedpath: record.relatedPath }),
    device,
    user: 1
  })
}

export class FakeVault {
  readonly records: FakeRecord[] = []
  /** Set for a standard-encryption vault: the password /vault/list carries beside the salt. */
  listedPassword: string | undefined

  constructor(
    readonly id: string,
    readonly name: string,
    readonly salt: string,
    readonly encryptionVersion: number,
    readonly keyhash: string,
    readonly cipher?: VaultCipher
  ) {}

  get version(): number {
    return this.records.at(-1)?.uid ?? 0
  }

  /** A new version of `path` with this content (a file), made with the vault's cipher. */
  put(path: string, plain: Buffer | string, mtime: number = Date.now()): FakeRecord {
    const bytes = Buffer.isBuffer(plain) ? plain : Buffer.from(plain)
    const content = this.requireCipher().encryptContent(bytes)
    return this.addFile(path, createHash('sha256').update(bytes).digest('hex'), mtime, content, content.length)
  }

  /** A file whose content is made on demand: `plain()` must return the same bytes every time, whose sha256 is `hash`. */
  putLazy(path: string, size: number, hash: string, plain: () => Buffer, mtime: number = Date.now()): FakeRecord {
    const cipher = this.requireCipher()
    const iv = createHash('sha256').update(`iv:${path}:${hash}`).digest().subarray(0, 12)
    const content = (): Buffer => cipher.encryptContent(plain(), iv)
    return this.addFile(path, hash, mtime, content, size === 0 ? 0 : size + 28)
  }

  /** An empty file as Obsidian's client may write one: 12 bytes of content, an IV and nothing else. */
  putIvOnly(path: string, mtime: number = Date.now()): FakeRecord {
    const empty = createHash('sha256').update(Buffer.alloc(0)).digest('hex')
    return this.addFile(path, empty, mtime, randomBytes(12), 12)
  }

  /** A file's record: its path and plaintext hash encrypted, its content as given (encrypted already). */
  private addFile(
    path: string,
    sha256Hex: string,
    mtime: number,
    content: FakeRecord['content'],
    size: number
  ): FakeRecord {
    const cipher = this.requireCipher()
    return this.add({
      encPath: cipher.encryptPath(path),
      encHash: cipher.encryptPath(sha256Hex),
      folder: false,
      deleted: false,
      ctime: mtime,
      mtime,
      content,
      size
    })
  }

  /** A file whose `hash` field is empty, as the service may hold one. */
  putWithoutHash(path: string, plain: Buffer | string, mtime: number = Date.now()): FakeRecord {
    const record = this.put(path, plain, mtime)
    record.encHash = ''
    return record
  }

  folder(path: string): FakeRecord {
    return this.addEmpty(path, { folder: true, deleted: false, mtime: 0 })
  }

  remove(path: string): FakeRecord {
    return this.addEmpty(path, { folder: false, deleted: true, mtime: Date.now() })
  }

  /** A record without content: a folder, or the deletion of a path. */
  private addEmpty(path: string, kind: { folder: boolean; deleted: boolean; mtime: number }): FakeRecord {
    return this.add({
      encPath: this.requireCipher().encryptPath(path),
      encHash: '',
      ...kind,
      ctime: 0,
      content: Buffer.alloc(0),
      size: 0
    })
  }

  /**
   * A rename as the official client sends it, and the service announces it: a deletion of the old path, then
   * a push of the new one, the same content, with `relatedpath` naming the old.
   */
  rename(from: string, to: string, plain: Buffer | string): FakeRecord {
    this.remove(from)
    const record = this.put(to, plain)
    record.relatedPath = this.requireCipher().encryptPath(from)
    return record
  }

  add(record: Omit<FakeRecord, 'uid'>): FakeRecord {
    const full = { ...record, uid: this.version + 1 }
    this.records.push(full)
    return full
  }

  /** What init sends: with `initial` (and version 0) the latest live record of each path; otherwise every record after `version`. */
  changesAfter(version: number, initial: boolean): FakeRecord[] {
    if (!initial || version !== 0) return this.records.filter(r => r.uid > version)
    const latest = new Map<string, FakeRecord>()
    for (const record of this.records) latest.set(record.encPath, record)
    return [...latest.values()].filter(r => !r.deleted).sort((a, b) => a.uid - b.uid)
  }

  private requireCipher(): VaultCipher {
    if (this.cipher === undefined) throw new Error(`vault ${this.id} was built from vectors and has no cipher`)
    return this.cipher
  }
}
