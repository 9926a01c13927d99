/** What the embedded S3 keeps about an object and its versions, as stored in each key's record. */
import { invalidArgument, S3Error } from './errors.ts'

export type Versioning = 'Enabled' | 'Suspended'

export interface ObjectAttributes {
  contentType: string
  /** x-amz-meta-* without the prefix. */
  metadata: Record<string, string>
  /** Content-Disposition, Cache-Control and the other stored representation headers, as given. */
  headers: Record<string, string>
  tags: Array<[string, string]>
}

export interface ObjectVersion extends ObjectAttributes {
  /** `null` for the one version a bucket without versioning keeps. */
  versionId: string
  deleteMarker: boolean
  lastModified: number
  /** Hex MD5 of the bytes, or of the parts' MD5s with `-<parts>`; empty for a delete marker. */
  etag: string
  size: number
  blob?: string
}

export interface KeyRecord {
  key: string
  /** Newest first. */
  versions: ObjectVersion[]
}

/** A version as a write gives it: the store adds its id and time. */
export type NewVersion = Omit<ObjectVersion, 'versionId' | 'lastModified' | 'deleteMarker'> & { deleteMarker?: boolean }

const MAX_KEY_BYTES = 1024

/** S3's rules for a key: not empty, at most 1,024 bytes of UTF-8. */
export function checkKey(key: string): void {
  if (key === '') throw invalidArgument('An object key must not be empty.', 'key', key)
  if (Buffer.byteLength(key) > MAX_KEY_BYTES)
    throw new S3Error('KeyTooLongError', 'Your key is too long', 400, { MaxSizeAllowed: String(MAX_KEY_BYTES) })
}

/** S3 lists keys in the order of their UTF-8 bytes, which is not JavaScript's UTF-16 order past U+FFFF. */
export function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}
