/**
 * The embedded S3's objects on disk. A key is never a file name: S3 takes any
 * key up to 1,024 bytes of UTF-8 with segments of any length, which a file
 * system path cannot hold. Each key has one small JSON record named by the
 * key's SHA-256 (the key itself inside), listing its versions newest first;
 * each version's bytes are a file named by a random id.
 *
 *   <root>/<bucket>/bucket.json             creation time, versioning status
 *   <root>/<bucket>/keys/<sha256>.json      { key, versions: [...] }
 *   <root>/<bucket>/blobs/<id>              one version's bytes
 *   <root>/<bucket>/uploads/<uploadId>/     a multipart upload (multipart-uploads.ts)
 *
 * The records of a bucket are read once into memory (listings need them
 * sorted); every change is written through, one write at a time per record,
 * and a replaced version's bytes are removed only after the record that no
 * longer names them is on disk.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, open, readdir, readFile, rm, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { ignoreMissing, randomId, writeAtomically, writeHashed } from './disk-files.ts'
import { noSuchBucket, noSuchKey, S3Error } from './errors.ts'
import { MultipartUploads } from './multipart-uploads.ts'
import {
  byUtf8,
  checkKey,
  type KeyRecord,
  type NewVersion,
  type ObjectAttributes,
  type ObjectVersion,
  type Versioning
} from './object-records.ts'

export { byUtf8, type ObjectAttributes, type ObjectVersion, type Versioning } from './object-records.ts'

interface Bucket {
  name: string
  createdAt: number
  versioning?: Versioning
  records: Map<string, KeyRecord>
  /** Keys in S3's order (UTF-8 bytes), rebuilt after a key comes or goes. */
  sorted?: string[]
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/
/** Records read at once when a bucket is loaded: enough to be quick, few enough to stay far from the fd limit. */
const LOAD_BATCH = 64

export class ObjectStore {
  private readonly buckets = new Map<string, Promise<Bucket>>()
  private readonly writes = new Map<string, Promise<void>>()

  /** Multipart uploads; completing one adds a version here. */
  readonly uploads: MultipartUploads

  constructor(private readonly root: string) {
    this.uploads = new MultipartUploads(root, {
      checkBucket: async name => void (await this.bucket(name)),
      newBlob: name => {
        const blob = randomId()
        return { blob, path: this.blobPath(name, blob) }
      },
      addVersion: async (name, key, fields) => await this.addVersion(await this.bucket(name), key, fields)
    })
  }

  async listBuckets(): Promise<Array<{ name: string; createdAt: number }>> {
    await mkdir(this.root, { recursive: true })
    const names = (await readdir(this.root)).filter(name => BUCKET_NAME.test(name)).sort()
    const found = await Promise.all(names.map(name => this.bucket(name).catch(() => undefined)))
    return found.filter(bucket => bucket !== undefined)
  }

  /** False when the bucket was there already. */
  async createBucket(name: string): Promise<boolean> {
    if (!BUCKET_NAME.test(name) || name.includes('..'))
      throw new S3Error('InvalidBucketName', 'The specified bucket is not valid.', 400, { BucketName: name })
    try {
      await this.bucket(name)
      return false
    } catch (err) {
      if (!(err instanceof S3Error && err.code === 'NoSuchBucket')) throw err
    }
    const dir = join(this.root, name)
    await Promise.all(['keys', 'blobs', 'uploads'].map(sub => mkdir(join(dir, sub), { recursive: true })))
    await writeAtomically(join(dir, 'bucket.json'), JSON.stringify({ createdAt: Date.now() }))
    this.buckets.delete(name)
    await this.bucket(name)
    return true
  }

  async deleteBucket(name: string): Promise<void> {
    const bucket = await this.bucket(name)
    const uploads = await readdir(join(this.root, name, 'uploads')).catch(() => [])
    if (bucket.records.size > 0 || uploads.length > 0)
      throw new S3Error('BucketNotEmpty', 'The bucket you tried to delete is not empty', 409, { BucketName: name })
    this.buckets.delete(name)
    await rm(join(this.root, name), { recursive: true, force: true })
  }

  async versioning(name: string): Promise<Versioning | undefined> {
    return (await this.bucket(name)).versioning
  }

  async setVersioning(name: string, status: Versioning): Promise<void> {
    const bucket = await this.bucket(name)
    bucket.versioning = status
    await this.serialized(join(this.root, name, 'bucket.json'), path =>
      writeAtomically(path, JSON.stringify({ createdAt: bucket.createdAt, versioning: bucket.versioning }))
    )
  }

  /** Stores `body` as the key's newest version once it has ended; `md5` (base64), when given, must match. */
  async putObject(
    name: string,
    key: string,
    body: AsyncIterable<Buffer>,
    attributes: ObjectAttributes,
    md5?: string
  ): Promise<ObjectVersion> {
    const bucket = await this.bucket(name)
    checkKey(key)
    const blob = randomId()
    const path = this.blobPath(name, blob)
    const { digest, size } = await writeHashed(body, path)
    if (md5 !== undefined && md5 !== digest.toString('base64')) {
      await unlink(path).catch(() => undefined)
      throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.', 400)
    }
    return await this.addVersion(bucket, key, { ...attributes, etag: digest.toString('hex'), size, blob })
  }

  /** The key's latest version, or the one named; a delete marker or nothing there is S3's error for it. */
  async getVersion(name: string, key: string, versionId?: string): Promise<ObjectVersion> {
    const bucket = await this.bucket(name)
    const versions = bucket.records.get(key)?.versions ?? []
    if (versionId === undefined) {
      const latest = versions[0]
      if (latest === undefined) throw noSuchKey(key)
      if (latest.deleteMarker)
        throw noSuchKey(key, { 'x-amz-delete-marker': 'true', 'x-amz-version-id': latest.versionId })
      return latest
    }
    const version = versions.find(v => v.versionId === versionId)
    if (version === undefined)
      throw new S3Error('NoSuchVersion', 'The specified version does not exist.', 404, {
        Key: key,
        VersionId: versionId
      })
    if (version.deleteMarker)
      throw new S3Error(
        'MethodNotAllowed',
        'The specified method is not allowed against this resource.',
        405,
        {},
        {
          'x-amz-delete-marker': 'true',
          'x-amz-version-id': versionId,
          'last-modified': new Date(version.lastModified).toUTCString()
        }
      )
    return version
  }

  /**
   * The version and its bytes, opened: a writer that replaces the version at the same moment removes its file
   * only after the record changed, so a file gone before it opened means look again.
   */
  async openVersion(
    name: string,
    key: string,
    versionId?: string
  ): Promise<{ version: ObjectVersion; file: FileHandle }> {
    for (let attempt = 0; ; attempt++) {
      const version = await this.getVersion(name, key, versionId)
      try {
        return { version, file: await open(this.blobPath(name, version.blob!), 'r') }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw err
      }
    }
  }

  /**
   * DeleteObject: without a version, the object goes (no versioning) or gets a delete marker; with one, that
   * version goes for good. Deleting what is not there succeeds, as in S3.
   */
  async deleteObject(
    name: string,
    key: string,
    versionId?: string
  ): Promise<{ versionId?: string; deleteMarker: boolean }> {
    const bucket = await this.bucket(name)
    const record = bucket.records.get(key)
    if (versionId !== undefined) {
      const index = record?.versions.findIndex(v => v.versionId === versionId) ?? -1
      if (record === undefined || index < 0) return { versionId, deleteMarker: false }
      const [removed] = record.versions.splice(index, 1)
      await this.save(bucket, record, [removed!])
      return { versionId, deleteMarker: removed!.deleteMarker }
    }
    if (bucket.versioning === undefined) {
      if (record !== undefined) await this.save(bucket, record, record.versions.splice(0))
      return { deleteMarker: false }
    }
    const marker = await this.addVersion(bucket, key, {
      contentType: '',
      metadata: {},
      headers: {},
      tags: [],
      etag: '',
      size: 0,
      deleteMarker: true
    })
    return { versionId: marker.versionId, deleteMarker: true }
  }

  async setTags(
    name: string,
    key: string,
    versionId: string | undefined,
    tags: Array<[string, string]>
  ): Promise<string> {
    const bucket = await this.bucket(name)
    const version = await this.getVersion(name, key, versionId)
    const record = bucket.records.get(key)
    // Gone while this looked (a delete in between): as if it had not been there.
    if (record === undefined || !record.versions.includes(version)) throw noSuchKey(key)
    version.tags = tags
    await this.save(bucket, record, [])
    return version.versionId
  }

  /** The key's versions, newest first; empty when there are none. */
  async versionsOf(name: string, key: string): Promise<readonly ObjectVersion[]> {
    return (await this.bucket(name)).records.get(key)?.versions ?? []
  }

  /** Every key under `prefix` in S3's order, from the first after `after` (when given). */
  async keys(
    name: string,
    prefix: string,
    after?: string
  ): Promise<Array<{ key: string; versions: readonly ObjectVersion[] }>> {
    const bucket = await this.bucket(name)
    bucket.sorted ??= [...bucket.records.keys()].sort(byUtf8)
    const sorted = bucket.sorted
    let start = 0
    const from = after !== undefined && byUtf8(after, prefix) > 0 ? after : prefix
    // Binary search for the first key at or past `from`.
    let high = sorted.length
    while (start < high) {
      const middle = (start + high) >>> 1
      if (byUtf8(sorted[middle]!, from) < 0) start = middle + 1
      else high = middle
    }
    const found: Array<{ key: string; versions: readonly ObjectVersion[] }> = []
    for (let i = start; i < sorted.length; i++) {
      const key = sorted[i]!
      if (!key.startsWith(prefix)) break
      if (after !== undefined && key === after) continue
      const record = bucket.records.get(key)
      if (record !== undefined && record.versions.length > 0) found.push(record)
    }
    return found
  }

  /** Adds the key's newest version: with versioning on, beside the others; otherwise in place of the `null` one. */
  private async addVersion(bucket: Bucket, key: string, fields: NewVersion): Promise<ObjectVersion> {
    let record = bucket.records.get(key)
    if (record === undefined) {
      record = { key, versions: [] }
      bucket.records.set(key, record)
      bucket.sorted = undefined
    }
    const version: ObjectVersion = {
      deleteMarker: false,
      ...fields,
      versionId: bucket.versioning === 'Enabled' ? randomBytes(16).toString('base64url') : 'null',
      lastModified: Date.now()
    }
    const replaced = version.versionId === 'null' ? record.versions.filter(v => v.versionId === 'null') : []
    record.versions = [version, ...record.versions.filter(v => !replaced.includes(v))]
    await this.save(bucket, record, replaced)
    return version
  }

  /** Writes the record as it now is (or removes it when no version is left), then the bytes of `dropped`. */
  private async save(bucket: Bucket, record: KeyRecord, dropped: ObjectVersion[]): Promise<void> {
    const path = join(this.root, bucket.name, 'keys', `${createHash('sha256').update(record.key).digest('hex')}.json`)
    if (record.versions.length === 0 && bucket.records.get(record.key) === record) {
      bucket.records.delete(record.key)
      bucket.sorted = undefined
    }
    await this.serialized(path, async () => {
      // Whatever the record holds when this write's turn comes: a later change is never undone by an earlier one.
      if (bucket.records.get(record.key) === record) await writeAtomically(path, JSON.stringify(record))
      else await unlink(path).catch(ignoreMissing)
    })
    await Promise.all(
      dropped
        .filter(v => v.blob !== undefined)
        .map(v => unlink(this.blobPath(bucket.name, v.blob!)).catch(ignoreMissing))
    )
  }

  private async serialized(path: string, write: (path: string) => Promise<void>): Promise<void> {
    const previous = this.writes.get(path) ?? Promise.resolve()
    const next = previous.then(() => write(path))
    const settled = next.catch(() => undefined)
    this.writes.set(path, settled)
    void settled.then(() => {
      if (this.writes.get(path) === settled) this.writes.delete(path)
    })
    await next
  }

  private async bucket(name: string): Promise<Bucket> {
    if (!BUCKET_NAME.test(name)) throw noSuchBucket(name)
    let loading = this.buckets.get(name)
    if (loading === undefined) {
      loading = this.load(name)
      this.buckets.set(name, loading)
      loading.catch(() => this.buckets.delete(name))
    }
    return await loading
  }

  private async load(name: string): Promise<Bucket> {
    const dir = join(this.root, name)
    const meta = await readFile(join(dir, 'bucket.json'), 'utf8').then(
      text => JSON.parse(text) as { createdAt: number; versioning?: Versioning },
      () => undefined
    )
    if (meta === undefined) throw noSuchBucket(name)
    const files = (await readdir(join(dir, 'keys')).catch(() => [])).filter(file => file.endsWith('.json'))
    const records = new Map<string, KeyRecord>()
    for (let i = 0; i < files.length; i += LOAD_BATCH) {
      const batch = await Promise.all(
        files.slice(i, i + LOAD_BATCH).map(file => readFile(join(dir, 'keys', file), 'utf8'))
      )
      for (const text of batch) {
        const record = JSON.parse(text) as KeyRecord
        records.set(record.key, record)
      }
    }
    return { name, createdAt: meta.createdAt, versioning: meta.versioning, records }
  }

  private blobPath(bucket: string, blob: string): string {
    return join(this.root, bucket, 'blobs', blob)
  }
}
