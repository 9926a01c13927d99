/**
 * The past of a backup, read from the versioned sync bucket: which files a vault held at a moment, the
 * versions of one file, and the bytes of any version. The bucket is the one truth: ListObjectVersions under
 * the vault's prefix gives every version and delete marker still kept (30 days after a version stopped being
 * current), and the latest of a key at or before a moment is what the vault held then; a delete marker there
 * means the file was deleted.
 *
 * A listing does not carry an object's metadata (its `sha256` and `mtime`). The index (the sync table) holds
 * them for each file's current object with the version id its upload made, so a version that is still
 * current costs nothing more; only a version replaced or deleted since, or one written before the index kept
 * version ids, costs a HEAD. A moment shortly in the past, the common case, needs a HEAD per changed file,
 * not per file.
 *
 * S3 lists times to the second, so moments compare to the second on every engine.
 */
import type { Readable } from 'node:stream'
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandOutput,
  type S3Client
} from '@aws-sdk/client-s3'
import { InvalidInputError } from '../core/errors.ts'
import { decodeCursor, encodeCursor } from '../http/pagination.ts'
import { parseVaultKeyPrefix, pathOfKey } from './sync-paths.ts'
import type { FileEntry, SyncVaultsRepository } from './sync-vaults.ts'

/** A file as the backup held it at a moment. */
export interface PastFile {
  path: string
  /** Plaintext bytes. */
  size: number
  /** hex SHA-256 of the plaintext (empty when the object carries none). */
  sha256: string
  /** The file's modification time, epoch ms. */
  mtime: number
  s3_key: string
  version_id: string
}

/** One version of a file, or its deletion. */
export interface FileVersion {
  version_id: string
  /** When the backup wrote (or deleted) it, epoch ms, to the second. */
  time: number
  deleted: boolean
  /** Null for a deletion. */
  size: number | null
  sha256: string | null
  mtime: number | null
}

/** One version's bytes, streamed, with what its metadata says of them. */
export interface OpenedVersion {
  body: Readable
  size: number
  sha256: string
  mtime: number
  content_type: string
}

/** A version as ListObjectVersions gives it. */
interface Listed {
  key: string
  versionId: string
  time: number
  deleted: boolean
  size: number
  latest: boolean
}

export interface SyncHistoryRepositoryOptions {
  s3: S3Client
  /** Entries per ListObjectVersions page (S3's default and most: 1000); tests make pages small. */
  listPageSize?: number
  /** The stack's sync bucket; the methods take the bucket a backup names. */
  bucket: string
  /** The index: the metadata of each file's current version. */
  vaults: SyncVaultsRepository
}

/** HEADs in flight at once, for the versions the index cannot describe. */
const HEADS_AT_ONCE = 8
/** Files resolved together: one Query of the index for their run of paths. */
const CHUNK = 100

const second = (ms: number): number => Math.floor(ms / 1000)
const atOrBefore = (time: number, asOf: number): boolean => second(time) <= second(asOf)
const invalidCursor = (): InvalidInputError =>
  new InvalidInputError('INVALID_CURSOR', 'cursor is not one this list handed out')

export class SyncHistoryRepository {
  private readonly s3: S3Client
  readonly bucket: string
  private readonly vaults: SyncVaultsRepository
  private readonly listPageSize: number | undefined

  constructor(options: SyncHistoryRepositoryOptions) {
    this.s3 = options.s3
    this.listPageSize = options.listPageSize
    this.bucket = options.bucket
    this.vaults = options.vaults
  }

  /**
   * Every file under `vaultPrefix` (`<dest_prefix>/<vault_id>/`, see `vaultKeyPrefix`) as it was at `asOf`, by
   * path in S3's order (UTF-8 bytes); `pathPrefix` narrows to paths starting with it, `after` starts after that
   * path. Reads a page of versions at a time: memory stays bounded whatever the vault's size.
   */
  async *filesAsOf(
    bucket: string,
    vaultPrefix: string,
    asOf: number | Date,
    options: { pathPrefix?: string; after?: string } = {}
  ): AsyncGenerator<PastFile> {
    const at = +asOf
    let chunk: Listed[] = []
    for await (const listed of this.presentAt(bucket, vaultPrefix, at, options)) {
      chunk.push(listed)
      if (chunk.length < CHUNK) continue
      yield* await this.describe(bucket, vaultPrefix, chunk)
      chunk = []
    }
    if (chunk.length > 0) yield* await this.describe(bucket, vaultPrefix, chunk)
  }

  /** One page of `filesAsOf`, with a cursor to the next (null after the last). */
  async filesPage(
    bucket: string,
    vaultPrefix: string,
    asOf: number,
    page: { pathPrefix: string; limit: number; cursor?: string }
  ): Promise<{ files: PastFile[]; cursor: string | null }> {
    const start = decodeCursor(page.cursor, { after: 'string' })
    const after = start === undefined ? undefined : String(start.after)
    if (after !== undefined && !after.startsWith(page.pathPrefix)) throw invalidCursor()
    const found: Listed[] = []
    for await (const listed of this.presentAt(bucket, vaultPrefix, asOf, { pathPrefix: page.pathPrefix, after })) {
      found.push(listed)
      // One more than the page says whether there is a next one.
      if (found.length > page.limit) break
    }
    const files = await this.describe(bucket, vaultPrefix, found.slice(0, page.limit))
    const more = found.length > page.limit
    return { files, cursor: more ? encodeCursor({ after: files.at(-1)!.path }) : null }
  }

  /** The file at `key` as it was at `asOf`; undefined when it did not exist then (or was deleted). */
  async fileAsOf(bucket: string, key: string, asOf: number | Date): Promise<PastFile | undefined> {
    const at = +asOf
    const chosen = (await this.versionsOf(bucket, key)).find(v => atOrBefore(v.time, at))
    if (chosen === undefined || chosen.deleted) return undefined
    const vaultPrefix = key.slice(0, key.indexOf('/', key.indexOf('/') + 1) + 1)
    return (await this.describe(bucket, vaultPrefix, [chosen]))[0]
  }

  /** Every version of `key` the bucket keeps, deletions included, newest first. */
  async history(bucket: string, key: string): Promise<FileVersion[]> {
    return await this.withMetadata(bucket, await this.versionsOf(bucket, key))
  }

  /** One page of `history`, with a cursor to the next (null after the last); empty when the key never existed. */
  async historyPage(
    bucket: string,
    key: string,
    limit: number,
    cursor?: string
  ): Promise<{ versions: FileVersion[]; cursor: string | null }> {
    const start = decodeCursor(cursor, { after: 'string' })
    const all = await this.versionsOf(bucket, key)
    let from = 0
    if (start !== undefined) {
      from = all.findIndex(v => v.versionId === start.after) + 1
      if (from === 0) throw invalidCursor()
    }
    const slice = all.slice(from, from + limit)
    const more = from + limit < all.length
    return {
      versions: await this.withMetadata(bucket, slice),
      cursor: more ? encodeCursor({ after: slice.at(-1)!.versionId }) : null
    }
  }

  /** One version's bytes as a stream, with its metadata; S3's NoSuchKey / NoSuchVersion when it is gone. */
  async open(bucket: string, key: string, versionId: string): Promise<OpenedVersion> {
    const object = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }))
    return {
      body: object.Body as Readable,
      size: object.ContentLength ?? 0,
      sha256: object.Metadata?.sha256 ?? '',
      mtime: mtimeOf(object.Metadata, object.LastModified?.getTime() ?? 0),
      content_type: object.ContentType ?? 'application/octet-stream'
    }
  }

  /** The version each key under the prefix had at `at`, keys deleted then (or created since) left out. */
  private async *presentAt(
    bucket: string,
    vaultPrefix: string,
    at: number,
    options: { pathPrefix?: string; after?: string }
  ): AsyncGenerator<Listed> {
    const prefix = vaultPrefix + (options.pathPrefix ?? '')
    const keyMarker = options.after === undefined ? undefined : vaultPrefix + options.after
    for await (const versions of this.keyVersions(bucket, prefix, keyMarker)) {
      const chosen = versions.find(v => atOrBefore(v.time, at))
      if (chosen === undefined || chosen.deleted || pathOfKey(vaultPrefix, chosen.key) === undefined) continue
      yield chosen
    }
  }

  /** The versions of exactly `key`, newest first. */
  private async versionsOf(bucket: string, key: string): Promise<Listed[]> {
    for await (const versions of this.keyVersions(bucket, key)) if (versions[0]!.key === key) return versions
    return []
  }

  /**
   * Each key under `prefix` (after `keyMarker`) with all its versions and delete markers, newest first. A
   * key's versions may straddle two pages of the listing: a page's last key waits for the next page.
   */
  private async *keyVersions(bucket: string, prefix: string, keyMarker?: string): AsyncGenerator<Listed[]> {
    /** The entries so far of the last key of the previous page, when that page was cut short. */
    let carried: Listed[] = []
    let marker: { key?: string; versionId?: string } = { key: keyMarker }
    for (;;) {
      const page = await this.s3.send(
        new ListObjectVersionsCommand({
          Bucket: bucket,
          Prefix: prefix,
          KeyMarker: marker.key,
          VersionIdMarker: marker.versionId,
          MaxKeys: this.listPageSize
        })
      )
      // Keys after the marker only, as S3 lists them; moto lists the marker's own key too.
      const groups = [...groupByKey(page)].filter(([key]) => key !== keyMarker)
      if (carried.length > 0) {
        const key = carried[0]!.key
        const continued = groups[0]?.[0] === key ? groups.shift()![1] : []
        groups.unshift([key, [...carried, ...continued]])
        carried = []
      }
      for (const [i, [, entries]] of groups.entries()) {
        if (page.IsTruncated && i === groups.length - 1) carried = entries
        else yield await this.merge(bucket, entries)
      }
      if (!page.IsTruncated) return
      marker = { key: page.NextKeyMarker, versionId: page.NextVersionIdMarker }
    }
  }

  /**
   * One key's versions and delete markers, each run newest first, as one run. The SDK hands versions and delete
   * markers in two lists, losing S3's order between them, and times are to the second: a version and a delete
   * marker of the same second are ordered by which is the latest, else by asking S3 what comes after one of them.
   */
  private async merge(bucket: string, all: Listed[]): Promise<Listed[]> {
    const versions = all.filter(v => !v.deleted)
    const markers = all.filter(v => v.deleted)
    const merged: Listed[] = []
    let i = 0
    let j = 0
    while (i < versions.length || j < markers.length) {
      const v = versions[i]
      const m = markers[j]
      let takeVersion: boolean
      if (v === undefined) takeVersion = false
      else if (m === undefined) takeVersion = true
      else if (v.time !== m.time) takeVersion = v.time > m.time
      else if (v.latest || m.latest) takeVersion = v.latest
      else takeVersion = await this.isOlder(bucket, m, v)
      if (takeVersion) merged.push(versions[i++]!)
      else merged.push(markers[j++]!)
    }
    return merged
  }

  /** True when `older` comes after `newer` in the key's listing (S3 lists a key's versions newest first). */
  private async isOlder(bucket: string, older: Listed, newer: Listed): Promise<boolean> {
    let marker = { key: newer.key, versionId: newer.versionId }
    for (;;) {
      const page = await this.s3.send(
        new ListObjectVersionsCommand({
          Bucket: bucket,
          Prefix: newer.key,
          KeyMarker: marker.key,
          VersionIdMarker: marker.versionId,
          MaxKeys: this.listPageSize
        })
      )
      const entries = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].filter(e => e.Key === newer.key)
      if (entries.some(e => e.VersionId === older.versionId)) return true
      if (!page.IsTruncated || page.NextKeyMarker !== newer.key) return false
      marker = { key: page.NextKeyMarker, versionId: page.NextVersionIdMarker! }
    }
  }

  /** Listed versions with their metadata: from the index when the version is a file's current one, else a HEAD. */
  private async describe(bucket: string, vaultPrefix: string, listed: Listed[]): Promise<PastFile[]> {
    if (listed.length === 0) return []
    const current = await this.indexed(bucket, vaultPrefix, listed)
    const files: PastFile[] = []
    for (let i = 0; i < listed.length; i += HEADS_AT_ONCE)
      files.push(
        ...(await Promise.all(
          listed.slice(i, i + HEADS_AT_ONCE).map(async v => {
            const path = v.key.slice(vaultPrefix.length)
            const entry = current.get(path)
            const known = entry?.versionId === v.versionId ? entry : await this.head(bucket, v)
            return {
              path,
              size: v.size,
              sha256: known.sha256,
              mtime: known.mtime,
              s3_key: v.key,
              version_id: v.versionId
            }
          })
        ))
      )
    return files
  }

  private async withMetadata(bucket: string, listed: Listed[]): Promise<FileVersion[]> {
    const versions: FileVersion[] = []
    for (let i = 0; i < listed.length; i += HEADS_AT_ONCE)
      versions.push(
        ...(await Promise.all(
          listed.slice(i, i + HEADS_AT_ONCE).map(async v => {
            const known = v.deleted ? undefined : await this.head(bucket, v)
            return {
              version_id: v.versionId,
              time: v.time,
              deleted: v.deleted,
              size: v.deleted ? null : v.size,
              sha256: known?.sha256 ?? null,
              mtime: known?.mtime ?? null
            }
          })
        ))
      )
    return versions
  }

  /** The index entries of the listed paths, by path, when the bucket and prefix are a destination's. */
  private async indexed(bucket: string, vaultPrefix: string, listed: Listed[]): Promise<Map<string, FileEntry>> {
    const destination = parseVaultKeyPrefix(vaultPrefix)
    if (destination === undefined) return new Map()
    const paths = listed.map(v => v.key.slice(vaultPrefix.length))
    const entries = await this.vaults.filesBetween(
      destination.vaultId,
      { bucket, prefix: destination.prefix },
      paths[0]!,
      paths.at(-1)!
    )
    return new Map(entries.map(e => [e.path, e]))
  }

  private async head(bucket: string, v: Listed): Promise<{ sha256: string; mtime: number }> {
    const head = await this.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: v.key, VersionId: v.versionId }))
    return { sha256: head.Metadata?.sha256 ?? '', mtime: mtimeOf(head.Metadata, v.time) }
  }
}

/** A page's versions and delete markers by key, in the listing's key order, each key's newest first. */
function groupByKey(page: ListObjectVersionsCommandOutput): Map<string, Listed[]> {
  const byKey = new Map<string, Listed[]>()
  const add = (listed: Listed) => {
    const versions = byKey.get(listed.key)
    if (versions === undefined) byKey.set(listed.key, [listed])
    else versions.push(listed)
  }
  const entries = [
    ...(page.Versions ?? []).map(v => ({ ...v, deleted: false })),
    ...(page.DeleteMarkers ?? []).map(m => ({ ...m, Size: 0, deleted: true }))
  ]
  // Keys in the listing's order (UTF-8 bytes), which Versions and DeleteMarkers each keep.
  entries.sort((x, y) => Buffer.compare(Buffer.from(x.Key!), Buffer.from(y.Key!)))
  for (const e of entries)
    add({
      key: e.Key!,
      versionId: e.VersionId!,
      // To the second, as S3 lists it, on every engine (some list milliseconds).
      time: second(e.LastModified?.getTime() ?? 0) * 1000,
      deleted: e.deleted,
      size: e.Size ?? 0,
      latest: e.IsLatest === true
    })
  return byKey
}

/** The object's `mtime` metadata, else `fallback` (an object put there by hand carries none). */
function mtimeOf(metadata: Record<string, string> | undefined, fallback: number): number {
  const mtime = Number(metadata?.mtime)
  return Number.isSafeInteger(mtime) && mtime >= 0 ? mtime : fallback
}
