/**
 * Sync runs and their per-vault progress (/sync), in the sync table:
 *
 *   RUNS / <runId>           the run: what was asked, its status, how many slices it took, its result.
 *                            runIds are UUIDv7, so a reverse Query is newest first.
 *   RUN#<runId> / <vaultId>  one vault's progress in that run: counters (ADD, so slices in any
 *                            container add up), the first error messages, and its outcome once done.
 *
 * Status moves queued -> running -> succeeded | failed | partial, each move one
 * conditional update on a status that is not final, so a run ends once.
 * Items expire 30 days (SYNC_RUN_TTL_DAYS, src/core/expiry.ts) after the run was created.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { Static } from '@sinclair/typebox'
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb'
import { SYNC_RUN_TTL_DAYS, ttlFromMillis } from '../core/expiry.ts'
import { MAX_SYNC_ERROR_MESSAGES } from '../core/limits.ts'
import type { SyncResponse } from '../schemas/sync.ts'
import { decodeCursor, encodeCursor, type CursorKey } from '../http/pagination.ts'
import { conditional, partitionPage, queryAll } from './dynamo.ts'
import { RunRecords } from './run-records.ts'

export type SyncType = 'complete' | 'incremental'
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'partial'
export type RunTrigger = 'api' | 'schedule' | 'cli'
/** ok: every file applied; errors: finished, some files refused or failed; failed: stopped; busy: another run had it. */
export type VaultOutcome = 'ok' | 'errors' | 'failed' | 'busy'

export const FINAL_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'partial']

/** A finished run's result, as POST /sync?wait= answers it and GET /sync/runs/{run_id} shows it: the schema's type, not a copy. */
export type SyncResult = Static<typeof SyncResponse>

export interface Run {
  runId: string
  status: RunStatus
  syncType: SyncType
  trigger: RunTrigger
  vaultId?: string
  destBucket: string
  destPrefix: string
  createdAt: number
  updatedAt: number
  startedAt?: number
  finishedAt?: number
  /** Slices so far (the first is 1). */
  hops: number
  /** The vaults this run covers, fixed by its first slice. */
  plan?: string[]
  result?: SyncResult
}

export interface Counts {
  seen: number
  pulled: number
  skipped: number
  deleted: number
  bytes: number
  errors: number
}

export const zeroCounts = (): Counts => ({ seen: 0, pulled: 0, skipped: 0, deleted: 0, bytes: 0, errors: 0 })

export interface VaultProgress extends Counts {
  vaultId: string
  name?: string
  startedAt?: number
  finishedAt?: number
  outcome?: VaultOutcome
  /** The first MAX_SYNC_ERROR_MESSAGES errors, oldest first. */
  messages: string[]
}

const RUNS = 'RUNS'
const runPk = (runId: string): string => `RUN#${runId}`
const DAY_MS = 24 * 60 * 60 * 1000
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

interface RunItem extends Run {
  pk: string
  sk: string
  ttl: number
}

const toRun = ({ pk: _pk, sk: _sk, ttl: _ttl, ...run }: RunItem): Run => run

type ProgressItem = VaultProgress & { pk: string; sk: string; ttl: number }

const toProgress = ({ pk: _pk, sk: _sk, ttl: _ttl, ...progress }: ProgressItem): VaultProgress => ({
  ...progress,
  messages: progress.messages ?? []
})

export interface SyncRunsRepositoryOptions {
  dynamodb: DynamoDBClient
  table: string
}

export class SyncRunsRepository extends RunRecords {
  constructor(options: SyncRunsRepositoryOptions) {
    super(options, RUNS)
  }

  async create(run: Omit<Run, 'status' | 'hops' | 'updatedAt'>): Promise<Run> {
    const item: RunItem = {
      ...run,
      pk: RUNS,
      sk: run.runId,
      status: 'queued',
      hops: 0,
      updatedAt: run.createdAt,
      ttl: ttlFromMillis(run.createdAt + SYNC_RUN_TTL_DAYS * DAY_MS)
    }
    await this.putNew(item)
    return toRun(item)
  }

  async get(runId: string): Promise<Run | undefined> {
    const item = await this.read(runId)
    return item === undefined ? undefined : toRun(item as unknown as RunItem)
  }

  /** Every vault's progress in the run, by vault id. */
  async progress(runId: string): Promise<VaultProgress[]> {
    const items = await queryAll<ProgressItem>(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': runPk(runId) },
      ConsistentRead: true
    })
    return items.map(toProgress)
  }

  /** Runs newest first. */
  async list(limit: number, cursor?: string): Promise<{ runs: Run[]; cursor: string | null }> {
    const start = decodeCursor(cursor, { pk: { equals: RUNS }, sk: { pattern: UUID } })
    const { items, last } = await partitionPage(this.db, this.table, RUNS, { limit, start, descending: true })
    const runs = (items as unknown as RunItem[]).map(toRun)
    return { runs, cursor: last === undefined ? null : encodeCursor(last as CursorKey) }
  }

  /** Marks the run running in slice `hop`: the run as it is now, or undefined when it has ended (or never was). */
  async markRunning(runId: string, hop: number): Promise<Run | undefined> {
    const run = await this.markRunningRecord(runId, hop)
    return run === undefined ? undefined : toRun(run as unknown as RunItem)
  }

  /** Says the run is still being worked on (a slice's heartbeat); false when it has ended. */
  async touch(runId: string): Promise<boolean> {
    return (await this.updateLive(runId, 'SET updatedAt = :now', { ':now': Date.now() })) !== undefined
  }

  /** Fixes the run's vaults the first time; later calls get the plan already fixed. */
  async fixPlan(runId: string, vaultIds: string[]): Promise<string[]> {
    const { Attributes } = await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: RUNS, sk: runId },
        UpdateExpression: 'SET #plan = if_not_exists(#plan, :plan)',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#plan': 'plan' },
        ExpressionAttributeValues: { ':plan': vaultIds },
        ReturnValues: 'ALL_NEW'
      })
    )
    return (Attributes as RunItem).plan ?? vaultIds
  }

  /** Adds what a slice did to a vault's progress; `messages` are appended while fewer than the cap are kept. */
  async addProgress(
    runId: string,
    vaultId: string,
    delta: Counts,
    messages: string[],
    name: string | undefined,
    keptMessages: number
  ): Promise<void> {
    const now = Date.now()
    const room = Math.max(0, MAX_SYNC_ERROR_MESSAGES - keptMessages)
    const append = messages.slice(0, room)
    const names: Record<string, string> = { '#ttl': 'ttl' }
    const values: Record<string, unknown> = { ':now': now, ':ttl': ttlFromMillis(now + SYNC_RUN_TTL_DAYS * DAY_MS) }
    const adds = (Object.keys(delta) as Array<keyof Counts>).map(key => {
      names[`#${key}`] = key
      values[`:${key}`] = delta[key]
      return `#${key} :${key}`
    })
    let set = 'vaultId = :vaultId, startedAt = if_not_exists(startedAt, :now), #ttl = if_not_exists(#ttl, :ttl)'
    values[':vaultId'] = vaultId
    if (name !== undefined) {
      set += ', #name = :name'
      names['#name'] = 'name'
      values[':name'] = name
    }
    if (append.length > 0) {
      set += ', messages = list_append(if_not_exists(messages, :empty), :messages)'
      values[':empty'] = []
      values[':messages'] = append
    }
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: runPk(runId), sk: vaultId },
        UpdateExpression: `SET ${set} ADD ${adds.join(', ')}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values
      })
    )
  }

  /** A vault's outcome in the run; the first outcome recorded stays. Answers the vault's progress as it is then. */
  async finishVault(runId: string, vaultId: string, outcome: VaultOutcome, name?: string): Promise<VaultProgress> {
    const now = Date.now()
    const key = { pk: runPk(runId), sk: vaultId }
    const written = await conditional(
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression:
            'SET outcome = :outcome, finishedAt = :now, vaultId = :vaultId, startedAt = if_not_exists(startedAt, :now), #ttl = if_not_exists(#ttl, :ttl)' +
            (name === undefined ? '' : ', #name = :name'),
          ConditionExpression: 'attribute_not_exists(outcome)',
          ExpressionAttributeNames: { '#ttl': 'ttl', ...(name === undefined ? {} : { '#name': 'name' }) },
          ExpressionAttributeValues: {
            ':outcome': outcome,
            ':now': now,
            ':vaultId': vaultId,
            ':ttl': ttlFromMillis(now + SYNC_RUN_TTL_DAYS * DAY_MS),
            ...(name === undefined ? {} : { ':name': name })
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD'
        })
      )
    )
    // An outcome was already there: the item as it is (engines that do not answer it on a failed condition: read).
    const item = written.held
      ? written.result.Attributes
      : (written.current ??
        (await this.db.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }))).Item)
    return toProgress(item as ProgressItem)
  }

  /** Ends the run with its status and result; false when it had already ended. */
  async finish(runId: string, status: RunStatus, result: SyncResult): Promise<boolean> {
    const now = Date.now()
    const ended = await this.updateLive(
      runId,
      'SET #status = :status, #result = :result, finishedAt = :now, updatedAt = :now',
      { ':status': status, ':result': result, ':now': now },
      { '#result': 'result' }
    )
    return ended !== undefined
  }
}
