/**
 * The embedded S3's multipart uploads, each a folder until it is completed or
 * aborted: `<root>/<bucket>/uploads/<uploadId>/` holds upload.json (the key
 * and the object's attributes), and per part its bytes (`part-<n>`) and its
 * ETag and size (`part-<n>.json`). Completing joins the parts into a new
 * version of the key, through the object store.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { S3_MAX_PARTS, S3_MIN_PART_BYTES } from '../../core/limits.ts'
import { randomId, writeAtomically, writeHashed } from './disk-files.ts'
import { invalidArgument, noSuchUpload, S3Error } from './errors.ts'
import { byUtf8, checkKey, type NewVersion, type ObjectAttributes, type ObjectVersion } from './object-records.ts'

interface Upload extends ObjectAttributes {
  key: string
  initiated: number
}

const UPLOAD_ID = /^[0-9a-f]{32}$/

/** What uploads need of the object store. */
export interface VersionStore {
  /** Throws S3's NoSuchBucket when the bucket is not there. */
  checkBucket(name: string): Promise<void>
  /** Where a new version's bytes go: its blob id and path. */
  newBlob(name: string): { blob: string; path: string }
  /** Adds the key's newest version, as a PUT would. */
  addVersion(name: string, key: string, fields: NewVersion): Promise<ObjectVersion>
}

export class MultipartUploads {
  constructor(
    private readonly root: string,
    private readonly store: VersionStore
  ) {}

  async create(name: string, key: string, attributes: ObjectAttributes): Promise<string> {
    await this.store.checkBucket(name)
    checkKey(key)
    const uploadId = randomBytes(16).toString('hex')
    const dir = this.dir(name, uploadId)
    await mkdir(dir, { recursive: true })
    const upload: Upload = { ...attributes, key, initiated: Date.now() }
    await writeAtomically(join(dir, 'upload.json'), JSON.stringify(upload))
    return uploadId
  }

  /** Stores one part; its ETag (hex MD5). */
  async putPart(
    name: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: AsyncIterable<Buffer>
  ): Promise<string> {
    await this.read(name, key, uploadId)
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > S3_MAX_PARTS)
      throw invalidArgument(
        'Part number must be an integer between 1 and 10000, inclusive',
        'partNumber',
        String(partNumber)
      )
    const dir = this.dir(name, uploadId)
    const temporary = join(dir, `part-${partNumber}.${randomId()}.tmp`)
    const { digest, size } = await writeHashed(body, temporary)
    const etag = digest.toString('hex')
    await rename(temporary, join(dir, `part-${partNumber}`))
    await writeAtomically(join(dir, `part-${partNumber}.json`), JSON.stringify({ etag, size }))
    return etag
  }

  /** Joins the listed parts into the key's newest version, as S3 does: in order, each as uploaded, none too small. */
  async complete(
    name: string,
    key: string,
    uploadId: string,
    parts: Array<{ partNumber: number; etag: string }>
  ): Promise<ObjectVersion> {
    const upload = await this.read(name, key, uploadId)
    const dir = this.dir(name, uploadId)
    if (parts.length === 0)
      throw new S3Error(
        'MalformedXML',
        'The XML you provided was not well-formed or did not validate against our published schema',
        400
      )
    const stored: Array<{ etag: string; size: number }> = []
    for (const [i, part] of parts.entries()) {
      if (i > 0 && part.partNumber <= parts[i - 1]!.partNumber)
        throw new S3Error(
          'InvalidPartOrder',
          'The list of parts was not in ascending order. Parts must be ordered by part number.',
          400,
          { UploadId: uploadId }
        )
      const meta = await readFile(join(dir, `part-${part.partNumber}.json`), 'utf8').then(
        text => JSON.parse(text) as { etag: string; size: number },
        () => undefined
      )
      if (meta === undefined || meta.etag !== part.etag.replace(/"/g, ''))
        throw new S3Error(
          'InvalidPart',
          "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
          400,
          { UploadId: uploadId, PartNumber: String(part.partNumber) }
        )
      stored.push(meta)
    }
    const small = stored.findIndex((part, i) => i < stored.length - 1 && part.size < S3_MIN_PART_BYTES)
    if (small >= 0)
      throw new S3Error(
        'EntityTooSmall',
        'Your proposed upload is smaller than the minimum allowed object size.',
        400,
        {
          PartNumber: String(parts[small]!.partNumber)
        }
      )
    const { blob, path } = this.store.newBlob(name)
    try {
      const out = createWriteStream(path)
      await pipeline(async function* () {
        for (const part of parts) yield* createReadStream(join(dir, `part-${part.partNumber}`))
      }, out)
    } catch (err) {
      await unlink(path).catch(() => undefined)
      throw err
    }
    const etag = `${createHash('md5')
      .update(Buffer.concat(stored.map(part => Buffer.from(part.etag, 'hex'))))
      .digest('hex')}-${parts.length}`
    const size = stored.reduce((sum, part) => sum + part.size, 0)
    const { key: _key, initiated: _initiated, ...attributes } = upload
    const version = await this.store.addVersion(name, key, { ...attributes, etag, size, blob })
    await rm(dir, { recursive: true, force: true })
    return version
  }

  async abort(name: string, key: string, uploadId: string): Promise<void> {
    await this.read(name, key, uploadId)
    await rm(this.dir(name, uploadId), { recursive: true, force: true })
  }

  /** The upload, when it is of `key` (of any key when undefined); S3's NoSuchUpload otherwise. */
  private async read(name: string, key: string | undefined, uploadId: string): Promise<Upload> {
    await this.store.checkBucket(name)
    if (!UPLOAD_ID.test(uploadId)) throw noSuchUpload(uploadId)
    const upload = await readFile(join(this.dir(name, uploadId), 'upload.json'), 'utf8').then(
      text => JSON.parse(text) as Upload,
      () => undefined
    )
    if (upload === undefined || (key !== undefined && upload.key !== key)) throw noSuchUpload(uploadId)
    return upload
  }

  /** The uploads started and neither completed nor aborted, of keys under `prefix`, by key then start. */
  async list(name: string, prefix: string): Promise<Array<{ key: string; uploadId: string; initiated: number }>> {
    await this.store.checkBucket(name)
    const found: Array<{ key: string; uploadId: string; initiated: number }> = []
    for (const uploadId of await readdir(join(this.root, name, 'uploads')).catch(() => [])) {
      const upload = await this.read(name, undefined, uploadId).catch(() => undefined)
      if (upload !== undefined && upload.key.startsWith(prefix))
        found.push({ key: upload.key, uploadId, initiated: upload.initiated })
    }
    return found.sort((a, b) => byUtf8(a.key, b.key) || a.initiated - b.initiated)
  }

  private dir(bucket: string, uploadId: string): string {
    return join(this.root, bucket, 'uploads', uploadId)
  }
}
