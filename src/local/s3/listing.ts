/**
 * ListObjects (V1 and V2) and ListObjectVersions: keys under a prefix in S3's
 * order, rolled up into common prefixes by a delimiter, a page at a time.
 */
import { invalidArgument } from './errors.ts'
import { byUtf8, type ObjectStore, type ObjectVersion } from './store.ts'
import type { XmlBody, XmlElement, XmlValue } from './xml.ts'

/** The one account the embedded S3 has. */
/** A GET on a bucket that lists: the XML root element's name and its body. */
type Listing = (store: ObjectStore, bucket: string, query: URLSearchParams) => Promise<[string, XmlBody]>

export const OWNER = { ID: '75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a', DisplayName: 'embedded' }

/** What a key lists as: itself, or the common prefix the delimiter rolls it into. */
interface Group {
  name: string
  common: boolean
}

function grouping(prefix: string, delimiter: string): (key: string) => Group {
  return key => {
    if (delimiter === '') return { name: key, common: false }
    const at = key.indexOf(delimiter, prefix.length)
    return at < 0 ? { name: key, common: false } : { name: key.slice(0, at + delimiter.length), common: true }
  }
}

function maxKeys(query: URLSearchParams): number {
  const raw = query.get('max-keys')
  if (raw === null) return 1000
  if (!/^\d+$/.test(raw))
    throw invalidArgument('Provided max-keys not an integer or within integer range', 'max-keys', raw)
  return Math.min(Number(raw), 1000)
}

const encoder = (query: URLSearchParams) => (value: string) =>
  query.get('encoding-type') === 'url' ? encodeURIComponent(value).replace(/%2F/g, '/') : value

const iso = (ms: number): string => new Date(ms).toISOString()

export const listObjects: Listing = async (store, bucket, query) => {
  const v2 = query.get('list-type') === '2'
  const prefix = query.get('prefix') ?? ''
  const delimiter = query.get('delimiter') ?? ''
  const limit = maxKeys(query)
  const token = query.get('continuation-token')
  const after = v2
    ? token !== null
      ? Buffer.from(token, 'base64url').toString('utf8')
      : (query.get('start-after') ?? undefined)
    : (query.get('marker') ?? undefined)
  const groupOf = grouping(prefix, delimiter)
  const encode = encoder(query)
  const contents: XmlElement[] = []
  const prefixes: XmlElement[] = []
  let last: string | undefined
  let truncated = false
  for (const { key, versions } of await store.keys(bucket, prefix, after)) {
    const latest = versions[0]!
    if (latest.deleteMarker) continue
    const group = groupOf(key)
    if (after !== undefined && byUtf8(group.name, after) <= 0) continue
    if (group.common && group.name === last) continue
    if (contents.length + prefixes.length >= limit) {
      truncated = true
      break
    }
    if (group.common) prefixes.push({ Prefix: encode(group.name) })
    else
      contents.push({
        Key: encode(key),
        LastModified: iso(latest.lastModified),
        ETag: `"${latest.etag}"`,
        Size: latest.size,
        StorageClass: 'STANDARD',
        ...(v2 && query.get('fetch-owner') !== 'true' ? {} : { Owner: OWNER })
      })
    last = group.name
  }
  const common = {
    Name: bucket,
    Prefix: encode(prefix),
    Delimiter: delimiter === '' ? undefined : encode(delimiter),
    MaxKeys: limit,
    EncodingType: query.get('encoding-type') ?? undefined,
    IsTruncated: truncated
  }
  if (!v2)
    return [
      'ListBucketResult',
      {
        ...common,
        Marker: after ?? '',
        NextMarker: truncated && last !== undefined ? encode(last) : undefined,
        Contents: contents,
        CommonPrefixes: prefixes
      }
    ]
  return [
    'ListBucketResult',
    {
      ...common,
      KeyCount: contents.length + prefixes.length,
      ContinuationToken: token ?? undefined,
      NextContinuationToken:
        truncated && last !== undefined ? Buffer.from(last, 'utf8').toString('base64url') : undefined,
      StartAfter: query.get('start-after') ?? undefined,
      Contents: contents,
      CommonPrefixes: prefixes
    }
  ]
}

export const listVersions: Listing = async (store, bucket, query) => {
  const prefix = query.get('prefix') ?? ''
  const delimiter = query.get('delimiter') ?? ''
  const limit = maxKeys(query)
  const keyMarker = query.get('key-marker') ?? undefined
  const versionMarker = keyMarker === undefined ? undefined : (query.get('version-id-marker') ?? undefined)
  const groupOf = grouping(prefix, delimiter)
  const encode = encoder(query)

  /** Each key's versions (newest first) and the first of them this page may list. */
  const records: Array<{ key: string; versions: readonly ObjectVersion[]; from: number }> = []
  if (keyMarker !== undefined && versionMarker !== undefined && keyMarker.startsWith(prefix)) {
    // The rest of the marker key's versions, after the one named.
    const versions = await store.versionsOf(bucket, keyMarker)
    const at = versions.findIndex(v => v.versionId === versionMarker)
    if (at < 0 && versionMarker !== 'null')
      throw invalidArgument('Invalid version id specified', 'version-id-marker', versionMarker)
    records.push({ key: keyMarker, versions, from: at + 1 })
  }
  for (const record of await store.keys(bucket, prefix, keyMarker)) records.push({ ...record, from: 0 })

  const entries: Array<[string, XmlValue]> = []
  let count = 0
  let last: { key: string; versionId?: string } | undefined
  let truncated = false
  for (const { key, versions, from } of records) {
    const group = groupOf(key)
    if (group.common) {
      if (keyMarker !== undefined && versionMarker === undefined && byUtf8(group.name, keyMarker) <= 0) continue
      if (last?.key === group.name && last.versionId === undefined) continue
      if (count >= limit) {
        truncated = true
        break
      }
      entries.push(['CommonPrefixes', { Prefix: encode(group.name) }])
      count++
      last = { key: group.name }
      continue
    }
    for (let i = from; i < versions.length; i++) {
      const version = versions[i]!
      if (count >= limit) {
        truncated = true
        break
      }
      const common = {
        Key: encode(key),
        VersionId: version.versionId,
        IsLatest: i === 0,
        LastModified: iso(version.lastModified)
      }
      entries.push(
        version.deleteMarker
          ? ['DeleteMarker', { ...common, Owner: OWNER }]
          : [
              'Version',
              { ...common, ETag: `"${version.etag}"`, Size: version.size, StorageClass: 'STANDARD', Owner: OWNER }
            ]
      )
      count++
      last = { key, versionId: version.versionId }
    }
    if (truncated) break
  }
  return [
    'ListVersionsResult',
    [
      ['Name', bucket],
      ['Prefix', encode(prefix)],
      ['Delimiter', delimiter === '' ? undefined : encode(delimiter)],
      ['KeyMarker', keyMarker === undefined ? '' : encode(keyMarker)],
      ['VersionIdMarker', versionMarker ?? ''],
      ['NextKeyMarker', truncated && last !== undefined ? encode(last.key) : undefined],
      ['NextVersionIdMarker', truncated ? last?.versionId : undefined],
      ['MaxKeys', limit],
      ['EncodingType', query.get('encoding-type') ?? undefined],
      ['IsTruncated', truncated],
      ...entries
    ]
  ]
}

/**
 * ListMultipartUploads: the uploads in progress under a prefix, in one page (no markers: a local store never
 * has more than a few).
 */
export const listUploads: Listing = async (store, bucket, query) => {
  const prefix = query.get('prefix') ?? ''
  const encode = encoder(query)
  const uploads = await store.uploads.list(bucket, prefix)
  return [
    'ListMultipartUploadsResult',
    {
      Bucket: bucket,
      KeyMarker: '',
      UploadIdMarker: '',
      Prefix: encode(prefix),
      MaxUploads: 1000,
      IsTruncated: false,
      Upload: uploads.map(upload => ({
        Key: encode(upload.key),
        UploadId: upload.uploadId,
        Initiator: { ID: OWNER.ID, DisplayName: OWNER.DisplayName },
        Owner: OWNER,
        StorageClass: 'STANDARD',
        Initiated: iso(upload.initiated)
      }))
    }
  ]
}
