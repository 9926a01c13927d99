/**
 * Restores (POST /sync/restores), in the sync table:
 *
 *   RESTORES / <restoreId>   what was asked (which backup, which moment, the new vault's name and
 *                            encryption), the vault it created, its counts and status.
 *
 * Status moves queued -> running -> succeeded | failed | partial like a sync run's, each move one
 * conditional update on a status that is not final, so a restore ends once. No password is here:
 * the target's travels in the continuation events only. Items expire SYNC_RUN_TTL_DAYS after creation.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { SYNC_RUN_TTL_DAYS, ttlFromMillis } from '../core/expiry.ts'
import { MAX_SYNC_ERROR_MESSAGES } from '../core/limits.ts'
import { conditional, documentClient } from './dynamo.ts'
import type { RunStatus } from './sync-runs.ts'

export type RestoreEncryption = 'end-to-end' | 'standard'

/** A restore's totals: `uploaded` over every slice; the rest as its last pass saw them. */
export interface RestoreTotals {
  files_count: number
  uploaded: number
  skipped: number
  errors: number
}

export interface Restore {
  runId: string
  status: RunStatus
  vaultId: string
  /** The moment restored, epoch ms. */
  asOf: number
  targetName: string
  encryption: RestoreEncryption
  dryRun: boolean
  destBucket: string
  destPrefix: string
  /** The vault it created, recorded the moment it was. */
  targetVaultId?: string
  /** Files uploaded by the slices that have ended. */
  uploadedBefore: number
  /** The counts of the slice working now (its pass's own), saved now and then. */
  current?: RestoreTotals
  totals?: RestoreTotals
  errors: string[]
  createdAt: number
  updatedAt: number
  startedAt?: number
  finishedAt?: number
  hops: number
}

const RESTORES = 'RESTORES'
const DAY_MS = 24 * 60 * 60 * 1000

type RestoreItem = Restore & { pk: string; sk: string; ttl: number }

const toRestore = ({ pk: _pk, sk: _sk, ttl: _ttl, ...restore }: RestoreItem): Restore => ({
  ...restore,
  errors: restore.errors ?? []
})

export class SyncRestoresRepository {
  private readonly db: DynamoDBDocumentClient

  constructor(private readonly options: { dynamodb: DynamoDBClient; table: string }) {
    this.db = documentClient(options.dynamodb)
  }

  async create(
    restore: Omit<Restore, 'status' | 'hops' | 'updatedAt' | 'uploadedBefore' | 'errors'>
  ): Promise<Restore> {
    const item: RestoreItem = {
      ...restore,
      pk: RESTORES,
      sk: restore.runId,
      status: 'queued',
      hops: 0,
      uploadedBefore: 0,
      errors: [],
      updatedAt: restore.createdAt,
      ttl: ttlFromMillis(restore.createdAt + SYNC_RUN_TTL_DAYS * DAY_MS)
    }
    await this.db.send(
      new PutCommand({ TableName: this.options.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' })
    )
    return toRestore(item)
  }

  async get(restoreId: string): Promise<Restore | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.options.table, Key: { pk: RESTORES, sk: restoreId }, ConsistentRead: true })
    )
    return Item === undefined ? undefined : toRestore(Item as RestoreItem)
  }

  /** Marks it running in slice `hop`: the restore as it is now, or undefined when it has ended. */
  async markRunning(restoreId: string, hop: number): Promise<Restore | undefined> {
    const now = Date.now()
    return await this.updateLive(
      restoreId,
      'SET #status = :running, hops = :hop, updatedAt = :now, startedAt = if_not_exists(startedAt, :now)',
      { ':hop': hop, ':now': now }
    )
  }

  /** Records the vault it created; the one recorded first stays (and is answered). */
  async setTarget(restoreId: string, targetVaultId: string): Promise<string | undefined> {
    const restore = await this.updateLive(restoreId, 'SET targetVaultId = if_not_exists(targetVaultId, :target)', {
      ':target': targetVaultId
    })
    return restore?.targetVaultId
  }

  /** The working slice's counts so far (a heartbeat too); false once the restore has ended. */
  async saveCurrent(restoreId: string, current: RestoreTotals): Promise<boolean> {
    const saved = await this.updateLive(restoreId, 'SET #current = :current, updatedAt = :now', {
      ':current': current,
      ':now': Date.now()
    })
    return saved !== undefined
  }

  /** A slice paused after uploading `uploaded` files: they join the earlier slices'. */
  async endSlice(restoreId: string, uploaded: number): Promise<void> {
    await this.updateLive(restoreId, 'SET updatedAt = :now ADD uploadedBefore :uploaded REMOVE #current', {
      ':uploaded': uploaded,
      ':now': Date.now()
    })
  }

  /** Ends it with its status, totals and errors; false when it had already ended. */
  async finish(restoreId: string, status: RunStatus, totals: RestoreTotals, errors: string[]): Promise<boolean> {
    const now = Date.now()
    const ended = await this.updateLive(
      restoreId,
      'SET #status = :status, totals = :totals, errors = :errors, finishedAt = :now, updatedAt = :now REMOVE #current',
      { ':status': status, ':totals': totals, ':errors': errors.slice(0, MAX_SYNC_ERROR_MESSAGES), ':now': now }
    )
    return ended !== undefined
  }

  /** One update made only while the restore has not ended: it as it is now, undefined when it had. */
  private async updateLive(
    restoreId: string,
    update: string,
    values: Record<string, unknown>
  ): Promise<Restore | undefined> {
    // DynamoDB refuses names a statement does not use.
    const names: Record<string, string> = { '#status': 'status' }
    if (update.includes('#current')) names['#current'] = 'current'
    const written = await conditional(
      this.db.send(
        new UpdateCommand({
          TableName: this.options.table,
          Key: { pk: RESTORES, sk: restoreId },
          UpdateExpression: update,
          ConditionExpression: 'attribute_exists(pk) AND #status IN (:queued, :running)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':queued': 'queued', ':running': 'running', ...values },
          ReturnValues: 'ALL_NEW'
        })
      )
    )
    return written.held ? toRestore(written.result.Attributes as unknown as RestoreItem) : undefined
  }
}
