/**
 * How an asset is stored (/assets): one item per asset, key `assetId`:
 * fileName (made safe), contentType and size as declared, s3Key
 * `assets/<assetId>/<fileName>`, s3Bucket (the bucket holding it; items written
 * before it was stored read as ASSETS_BUCKET), status, createdAt, `createdKey`
 * for the status index, `ttl` (30 days; reads treat it as gone once past), and
 * for large files the multipart `uploadId`, partSize, partCount.
 */
import { MAX_FILE_NAME } from '../../core/limits.ts'

export type AssetStatus = 'pending' | 'uploaded' | 'rejected'

export interface Asset {
  assetId: string
  fileName: string
  contentType: string
  size: number
  status: AssetStatus
  s3Key: string
  s3Bucket: string
  createdAt: number
  /** When the metadata expires (epoch ms). */
  expiresAt: number
  etag?: string
  uploadedAt?: number
  rejectedReason?: string
  multipart?: MultipartPlan
}

export interface MultipartPlan {
  uploadId: string
  partSize: number
  partCount: number
}

export type UploadInstructions =
  | { method: 'PUT'; url: string; headers: Record<string, string>; expiresAt: number }
  | ({ method: 'MULTIPART'; expiresAt: number } & MultipartPlan)

export interface AssetItem extends Omit<Asset, 'expiresAt' | 'multipart' | 's3Bucket'> {
  /** Absent on items written before the bucket was stored. */
  s3Bucket?: string
  createdKey: string
  ttl: number
  uploadId?: string
  partSize?: number
  partCount?: number
}

/**
 * A file name that cannot leave `assets/<assetId>/`: no slashes, backslashes,
 * `..` or control characters, at most 200 characters, never empty; otherwise as sent.
 */
export function safeFileName(name: string): string {
  const cleaned = name
    .normalize('NFC')
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, '') // eslint-disable-line no-control-regex
    .replace(/[/\\]/g, '_')
    .replace(/\.{2,}/g, '.')
    .trim()
    .replace(/^\.+/, '')
  const short = [...cleaned].slice(0, MAX_FILE_NAME).join('')
  return short === '' ? 'file' : short
}

/** `bucket`: the repository's, for items written before s3Bucket was stored (no asset lived elsewhere then). */
export function toAsset(item: AssetItem, bucket: string): Asset {
  return {
    assetId: item.assetId,
    fileName: item.fileName,
    contentType: item.contentType,
    size: item.size,
    status: item.status,
    s3Key: item.s3Key,
    s3Bucket: item.s3Bucket ?? bucket,
    createdAt: item.createdAt,
    expiresAt: item.ttl * 1000,
    etag: item.etag,
    uploadedAt: item.uploadedAt,
    rejectedReason: item.rejectedReason,
    multipart:
      item.uploadId === undefined
        ? undefined
        : { uploadId: item.uploadId, partSize: item.partSize!, partCount: item.partCount! }
  }
}
