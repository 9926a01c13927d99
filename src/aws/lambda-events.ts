import type { AttributeValue } from '@aws-sdk/client-dynamodb'
import { unmarshall } from '@aws-sdk/util-dynamodb'
import { buckets } from '../core/tables.ts'

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

/** A non-empty `Records` list, every record from `source` and of the shape `valid` checks. */
function isRecordsFrom<R>(event: unknown, source: string, valid: (record: R) => boolean): boolean {
  const records = (event as { Records?: unknown } | null)?.Records
  return (
    Array.isArray(records) &&
    records.length > 0 &&
    records.every(r => (r as { eventSource?: unknown }).eventSource === source && valid(r as R))
  )
}

export function isS3Event(event: unknown): event is S3Event {
  return isRecordsFrom<S3Event['Records'][number]>(event, 'aws:s3', r => typeof r.s3?.object?.key === 'string')
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

/** A batch of DynamoDB Streams records, as an event source mapping hands them to Lambda. */
export interface DynamoDBStreamEvent {
  Records: Array<{
    eventSource: 'aws:dynamodb'
    eventName: 'INSERT' | 'MODIFY' | 'REMOVE'
    eventSourceARN: string
    dynamodb: { Keys: Record<string, AttributeValue>; SequenceNumber?: string }
  }>
}

export function isDynamoDBStreamEvent(event: unknown): event is DynamoDBStreamEvent {
  return isRecordsFrom<DynamoDBStreamEvent['Records'][number]>(
    event,
    'aws:dynamodb',
    r => typeof r.dynamodb?.Keys === 'object'
  )
}

/** The table a stream record comes from: `arn:…:table/<name>/stream/<label>`. */
export const tableOfStreamArn = (arn: string): string | undefined => /:table\/([^/]+)\/stream\//.exec(arn)?.[1]

/** The keys of the items inserted in the table, as plain values. */
export function insertedKeys(event: DynamoDBStreamEvent, table: string): Array<Record<string, unknown>> {
  return event.Records.filter(r => r.eventName === 'INSERT' && tableOfStreamArn(r.eventSourceARN) === table).map(r =>
    unmarshall(r.dynamodb.Keys)
  )
}

/**
 * The kinds of run that outlive an invocation, each with its slice runner (src/sync/run-kinds.ts). A
 * continuation without a kind is a sync run's: events sent before kinds existed mean the same.
 */
export type RunKind = 'sync' | 'export' | 'restore'

/** The event a run's slice sends the function to start the next: `{sync_run, hop, kind?, credentials?, token?}`. */
export interface SyncContinuationEvent {
  sync_run: string
  hop?: number
  /** Absent for a sync run. */
  kind?: RunKind
  credentials?: { email?: string; password?: string; totpSecret?: string; vaultPassword?: string }
  /** The run's Obsidian session token, signed in to by its first slice. */
  token?: string
  /** A restore's new vault's encryption password (end-to-end), for that restore only. */
  target_password?: string
}

/** A run's next slice to run, as its slice runner sees it; continuationEvent is how it travels. */
export interface Continuation {
  /** Whose slice runner takes it; absent: 'sync'. */
  kind?: RunKind
  runId: string
  /** The slice's number in its run's chain: 1 for the first. */
  hop: number
  /** Credentials the request brought, for this run only. */
  credentials?: SyncContinuationEvent['credentials']
  /**
   * The Obsidian session the run's first slice signed in to: the run signs in once and out at its end. Carried
   * as request credentials are, in the continuation event only.
   */
  token?: string
  /** A restore's target password, carried as credentials are. */
  targetPassword?: string
}

/** The event a continuation is sent as, written beside continuationOf, which reads it back, so the two agree. */
export function continuationEvent(next: Continuation): SyncContinuationEvent {
  return {
    sync_run: next.runId,
    hop: next.hop,
    ...(next.kind !== undefined && next.kind !== 'sync' ? { kind: next.kind } : {}),
    ...(next.credentials ? { credentials: next.credentials } : {}),
    ...(next.token ? { token: next.token } : {}),
    ...(next.targetPassword ? { target_password: next.targetPassword } : {})
  }
}

/** The continuation an event carries (what continuationEvent sent), kind included when it is not 'sync'. */
export function continuationOf(event: SyncContinuationEvent): Continuation {
  return {
    ...(event.kind !== undefined && event.kind !== 'sync' ? { kind: event.kind } : {}),
    runId: event.sync_run,
    hop: event.hop ?? 1,
    credentials: event.credentials,
    token: event.token,
    ...(event.target_password ? { targetPassword: event.target_password } : {})
  }
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
