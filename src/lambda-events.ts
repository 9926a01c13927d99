import { buckets } from './tables.ts'

/** The API Gateway event shapes the handler serves: REST API (payload 1.0) and HTTP API (payload 2.0). */
export interface ApiGatewayEvent {
  version?: string
  httpMethod?: string
  rawPath?: string
  headers?: Record<string, string | undefined> | null
  requestContext?: { requestId?: string; stage?: string; http?: { method: string; path?: string } }
  body?: string | null
  isBase64Encoded?: boolean
}

export function isApiGatewayEvent(event: unknown): event is ApiGatewayEvent {
  if (typeof event !== 'object' || event === null) return false
  const e = event as ApiGatewayEvent
  return (
    e.requestContext !== undefined &&
    (typeof e.httpMethod === 'string' || typeof e.requestContext.http?.method === 'string')
  )
}

/**
 * Readies an event for the app:
 * - API Gateway's request id becomes ours; a client-sent X-Request-Id is dropped, not trusted.
 * - An HTTP API on a named stage (`dev`) puts the stage in rawPath (`/dev/health`); the
 *   adapter strips it for REST APIs only, so it is stripped here.
 */
export function normalizeEvent<T extends ApiGatewayEvent>(event: T): T {
  const requestId = event.requestContext?.requestId
  const headers: Record<string, string | undefined> = {}
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (name.toLowerCase() !== 'x-request-id') headers[name] = value
  }
  if (requestId !== undefined) headers['x-request-id'] = requestId
  const stage = event.requestContext?.stage
  let rawPath = event.rawPath
  if (event.version === '2.0' && rawPath !== undefined && stage !== undefined && stage !== '$default') {
    if (rawPath === `/${stage}`) rawPath = '/'
    else if (rawPath.startsWith(`/${stage}/`)) rawPath = rawPath.slice(stage.length + 1)
  }
  return { ...event, headers, ...(rawPath === undefined ? {} : { rawPath }) }
}

const TEXTUAL =
  /^(text\/|application\/(json|[\w.+-]+\+json|javascript|xml|[\w.+-]+\+xml|x-www-form-urlencoded)|image\/svg\+xml)/

/** Anything not textual (images, fonts, octet streams) or compressed goes back base64-encoded. */
export function isBinaryResponse(res: { headers: Record<string, unknown> }): boolean {
  const encoding = String(res.headers['content-encoding'] ?? 'identity')
  if (encoding !== 'identity') return true
  const type = String(res.headers['content-type'] ?? '')
  return type !== '' && !TEXTUAL.test(type)
}

/** An S3 event notification, as S3 sends it to Lambda. */
export interface S3Event {
  Records: Array<{
    eventSource: 'aws:s3'
    eventName: string
    s3: { bucket: { name: string }; object: { key: string; size?: number; eTag?: string } }
  }>
}

export function isS3Event(event: unknown): event is S3Event {
  const records = (event as { Records?: unknown } | null)?.Records
  return (
    Array.isArray(records) &&
    records.length > 0 &&
    records.every(
      r =>
        (r as { eventSource?: unknown }).eventSource === 'aws:s3' &&
        typeof (r as S3Event['Records'][number]).s3?.object?.key === 'string'
    )
  )
}

/** S3 sends object keys URL-encoded, with `+` for a space. */
export const objectKeyOf = (encoded: string): string => decodeURIComponent(encoded.replace(/\+/g, ' '))

const ASSET_KEY = new RegExp(
  `^${buckets.assets.keyPrefix}([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/[^/]+$`
)

/** The asset an `assets/<assetId>/<fileName>` key belongs to, or undefined for any other key. */
export function assetIdOfKey(key: string): string | undefined {
  return ASSET_KEY.exec(key)?.[1]
}

/** The event a sync run's slice sends the function to start the next: `{sync_run, hop, credentials?}`. */
export interface SyncContinuationEvent {
  sync_run: string
  hop?: number
  credentials?: { email?: string; password?: string; totpSecret?: string; vaultPassword?: string }
}

export function isSyncContinuation(event: unknown): event is SyncContinuationEvent {
  const e = event as Partial<SyncContinuationEvent> | null
  return typeof e === 'object' && e !== null && typeof e.sync_run === 'string'
}

/** What the schedule sends (the template's Input): `{sync_type}`, every vault of the configured account. */
export interface ScheduledSyncEvent {
  sync_type: 'complete' | 'incremental'
}

export function isScheduledSync(event: unknown): event is ScheduledSyncEvent {
  const e = event as Partial<ScheduledSyncEvent> | null
  return (
    typeof e === 'object' &&
    e !== null &&
    !('sync_run' in e) &&
    (e.sync_type === 'incremental' || e.sync_type === 'complete')
  )
}
