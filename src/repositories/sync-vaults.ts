/**
 * What /sync knows of each vault, in the sync table:
 *
 *   VAULT#<vaultId> / LEASE        which run may sync the vault now, and until when (the lease of
 *                                  ./lease.ts, an item of its own): one run per vault at a time, and
 *                                  a crashed run's successor takes over once the lease has expired.
 *   VAULTS / <vaultId>#<target>    the vault's synced state at one destination (`<bucket>/<prefix>`):
 *                                  the last version fully applied (it only moves forward), the file
 *                                  count, the last success and the last error.
 *   FILES#<vaultId>#<target> / <path>
 *                                  one entry per backed-up file: size, sha256 and mtime of the
 *                                  plaintext, its object key, the version it came from.
 *
 * Nothing here grows with the vault but the index, one small item per file.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb'
import { InvalidInputError } from '../core/errors.ts'
import { SYNC_LEASE_TTL_AFTER_MS } from '../core/expiry.ts'
import { MAX_SYNC_VAULT_STATES } from '../core/limits.ts'
import { decodeCursor, encodeCursor, type CursorKey } from '../http/pagination.ts'
import { conditionHolds, documentClient, queryAll, type DynamoDBDocumentClient } from './dynamo.ts'
import { ItemLease } from './lease.ts'

/** Where a vault is backed up: a bucket and a key prefix (files land under `<prefix>/<vaultId>/`). */
export interface Target {
  bucket: string
  prefix: string
}

export const targetId = (target: Target): string => `${target.bucket}/${target.prefix}`

export interface VaultState {
  vaultId: string
  name?: string
  destBucket: string
  destPrefix: string
  /** The last version whose changes are all in S3 and the index. */
  version?: number
  /** When the first run to this destination began (epoch ms): the backup holds nothing older. */
  firstRunAt?: number
  fileCount: number
  lastRunId?: string
  lastAttemptAt?: number
  lastSuccessAt?: number
  lastError?: string
}

export interface FileEntry {
  path: string
  size: number
  sha256: string
  mtime: number
  s3Key: string
  /** The object version the upload made (versioned buckets): the past a restore reads tells it by this id. */
  versionId?: string
  /** The vault version this content came from. */
  uid: number
  /** The run that wrote it. */
  runId: string
}

export type LeaseResult =
  | { acquired: true; /** An expired lease of another run this one took over. */ tookOverFrom?: string }
  | { acquired: false; holder: string }

const VAULTS = 'VAULTS'
const leaseKey = (vaultId: string) => ({ pk: `VAULT#${vaultId}`, sk: 'LEASE' })
const stateKey = (vaultId: string, target: Target) => ({ pk: VAULTS, sk: `${vaultId}#${targetId(target)}` })
const filesPk = (vaultId: string, target: Target): string => `FILES#${vaultId}#${targetId(target)}`
/** DynamoDB's longest sort key, in UTF-8 bytes: no index entry has a longer path. */
const MAX_SORT_KEY_BYTES = 1024

export interface SyncVaultsRepositoryOptions {
  dynamodb: DynamoDBClient
  table: string
}

export class SyncVaultsRepository {
  private readonly db: DynamoDBDocumentClient
  private readonly leases: ItemLease

  constructor(private readonly options: SyncVaultsRepositoryOptions) {
    this.db = documentClient(options.dynamodb)
    this.leases = new ItemLease(
      { db: this.db, table: options.table, ownerAttribute: 'runId', untilAttribute: 'until' },
      SYNC_LEASE_TTL_AFTER_MS
    )
  }
  private get table(): string {
    return this.options.table
  }

  /** Takes the vault's lease for the run: free, expired (then `tookOverFrom` names the run it was) or already its. */
  async acquireLease(vaultId: string, runId: string, leaseMs: number): Promise<LeaseResult> {
    const lease = await this.leases.acquire(leaseKey(vaultId), runId, leaseMs)
    return lease.acquired ? { acquired: true, tookOverFrom: lease.tookOverFrom } : lease
  }

  /** Extends this run's lease; false when the vault is no longer this run's. */
  async renewLease(vaultId: string, runId: string, leaseMs: number): Promise<boolean> {
    return await this.leases.renew(leaseKey(vaultId), runId, leaseMs)
  }

  async releaseLease(vaultId: string, runId: string): Promise<void> {
    await this.leases.release(leaseKey(vaultId), runId)
  }

  async lease(vaultId: string): Promise<{ runId: string; until: number } | undefined> {
    return (await this.leases.read(leaseKey(vaultId))) as { runId: string; until: number } | undefined
  }

  async state(vaultId: string, target: Target): Promise<VaultState | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: stateKey(vaultId, target), ConsistentRead: true })
    )
    return Item === undefined ? undefined : toState(Item)
  }

  /** Every vault state known, by vault id then destination. */
  async states(): Promise<VaultState[]> {
    const items = await queryAll<Record<string, unknown>>(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': VAULTS },
      Limit: MAX_SYNC_VAULT_STATES
    })
    return items.slice(0, MAX_SYNC_VAULT_STATES).map(toState)
  }

  /**
   * Records the last version fully applied. It never moves back, so a late
   * save of an older slice cannot undo a newer one.
   */
  async saveVersion(vaultId: string, target: Target, version: number): Promise<boolean> {
    return await conditionHolds(
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: stateKey(vaultId, target),
          UpdateExpression: 'SET version = :version, vaultId = :vaultId, destBucket = :bucket, destPrefix = :prefix',
          ConditionExpression: 'attribute_not_exists(version) OR version <= :version',
          ExpressionAttributeValues: {
            ':version': version,
            ':vaultId': vaultId,
            ':bucket': target.bucket,
            ':prefix': target.prefix
          }
        })
      )
    )
  }

  /** Records when the first run to this destination began; a later call leaves the first time as it is. */
  async recordFirstRun(vaultId: string, target: Target, at: number): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: stateKey(vaultId, target),
        UpdateExpression:
          'SET firstRunAt = if_not_exists(firstRunAt, :at), vaultId = :vaultId, destBucket = :bucket, destPrefix = :prefix',
        ExpressionAttributeValues: {
          ':at': at,
          ':vaultId': vaultId,
          ':bucket': target.bucket,
          ':prefix': target.prefix
        }
      })
    )
  }

  /** How many files the index holds for the vault at this destination. */
  async countFiles(vaultId: string, target: Target): Promise<number> {
    let count = 0
    let startKey: Record<string, unknown> | undefined
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': filesPk(vaultId, target) },
          Select: 'COUNT',
          ConsistentRead: true,
          ExclusiveStartKey: startKey
        })
      )
      count += page.Count ?? 0
      startKey = page.LastEvaluatedKey
    } while (startKey !== undefined)
    return count
  }

  /** What a run's end says of the vault: success (and the exact file count, when known) or its error. */
  async recordOutcome(
    vaultId: string,
    target: Target,
    outcome: { runId: string; name?: string; error?: string; fileCount?: number }
  ): Promise<void> {
    const now = Date.now()
    const values: Record<string, unknown> = {
      ':vaultId': vaultId,
      ':bucket': target.bucket,
      ':prefix': target.prefix,
      ':runId': outcome.runId,
      ':now': now
    }
    const set = [
      'vaultId = :vaultId',
      'destBucket = :bucket',
      'destPrefix = :prefix',
      'lastRunId = :runId',
      'lastAttemptAt = :now'
    ]
    if (outcome.fileCount === undefined) {
      set.push('fileCount = if_not_exists(fileCount, :zero)')
      values[':zero'] = 0
    } else {
      set.push('fileCount = :fileCount')
      values[':fileCount'] = outcome.fileCount
    }
    const names: Record<string, string> = {}
    if (outcome.name !== undefined) {
      set.push('#name = :name')
      names['#name'] = 'name'
      values[':name'] = outcome.name
    }
    let remove = ''
    if (outcome.error === undefined) {
      set.push('lastSuccessAt = :now')
      remove = ' REMOVE lastError'
    } else {
      set.push('lastError = :error')
      values[':error'] = outcome.error
    }
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: stateKey(vaultId, target),
        UpdateExpression: `SET ${set.join(', ')}${remove}`,
        ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
        ExpressionAttributeValues: values
      })
    )
  }

  async file(vaultId: string, target: Target, path: string): Promise<FileEntry | undefined> {
    if (Buffer.byteLength(path) > MAX_SORT_KEY_BYTES) return undefined
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { pk: filesPk(vaultId, target), sk: path }, ConsistentRead: true })
    )
    return Item === undefined ? undefined : toEntry(Item)
  }

  /** Records a file; true when the path was new to the index. */
  async putFile(vaultId: string, target: Target, entry: FileEntry): Promise<boolean> {
    const { Attributes } = await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: filesPk(vaultId, target), sk: entry.path, ...entry },
        ReturnValues: 'ALL_OLD'
      })
    )
    return Attributes === undefined
  }

  /** Removes a file's entry; true when there was one. */
  async deleteFile(vaultId: string, target: Target, path: string): Promise<boolean> {
    const { Attributes } = await this.db.send(
      new DeleteCommand({
        TableName: this.table,
        Key: { pk: filesPk(vaultId, target), sk: path },
        ReturnValues: 'ALL_OLD'
      })
    )
    return Attributes !== undefined
  }

  /** The whole index of a vault at a destination, for a complete run's comparison and sweep. */
  async allFiles(vaultId: string, target: Target): Promise<FileEntry[]> {
    const items = await queryAll<Record<string, unknown>>(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': filesPk(vaultId, target) },
      ConsistentRead: true
    })
    return items.map(toEntry)
  }

  /** The index entries whose paths sort from `first` to `last`, both included: one Query for a run of paths. */
  async filesBetween(vaultId: string, target: Target, first: string, last: string): Promise<FileEntry[]> {
    const items = await queryAll<Record<string, unknown>>(this.db, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
      ExpressionAttributeValues: { ':pk': filesPk(vaultId, target), ':first': first, ':last': last },
      ConsistentRead: true
    })
    return items.map(toEntry)
  }

  /** The index by path, from `prefix` on. */
  async files(
    vaultId: string,
    target: Target,
    prefix: string,
    limit: number,
    cursor?: string
  ): Promise<{ files: FileEntry[]; cursor: string | null }> {
    const pk = filesPk(vaultId, target)
    const start = decodeCursor(cursor, { pk: { equals: pk }, sk: 'string' })
    // No path is longer than a sort key may be, so such a prefix matches nothing (and DynamoDB would refuse it).
    if (Buffer.byteLength(prefix) > MAX_SORT_KEY_BYTES) return { files: [], cursor: null }
    if (start !== undefined && !String(start.sk).startsWith(prefix)) throw invalidForPrefix()
    const page = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: prefix === '' ? 'pk = :pk' : 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: prefix === '' ? { ':pk': pk } : { ':pk': pk, ':prefix': prefix },
        Limit: limit,
        ExclusiveStartKey: start
      })
    )
    const last = page.LastEvaluatedKey
    return {
      files: ((page.Items ?? []) as Record<string, unknown>[]).map(toEntry),
      cursor: last === undefined ? null : encodeCursor(last as CursorKey)
    }
  }
}

const invalidForPrefix = (): InvalidInputError =>
  new InvalidInputError('INVALID_CURSOR', 'cursor is not one this list handed out for this prefix')

function toState(item: Record<string, unknown>): VaultState {
  return {
    vaultId: String(item.vaultId),
    name: item.name as string | undefined,
    destBucket: String(item.destBucket),
    destPrefix: String(item.destPrefix),
    version: item.version as number | undefined,
    firstRunAt: item.firstRunAt as number | undefined,
    fileCount: Math.max(0, Number(item.fileCount ?? 0)),
    lastRunId: item.lastRunId as string | undefined,
    lastAttemptAt: item.lastAttemptAt as number | undefined,
    lastSuccessAt: item.lastSuccessAt as number | undefined,
    lastError: item.lastError as string | undefined
  }
}

function toEntry(item: Record<string, unknown>): FileEntry {
  return {
    path: String(item.path),
    size: Number(item.size),
    sha256: String(item.sha256),
    mtime: Number(item.mtime),
    s3Key: String(item.s3Key),
    versionId: item.versionId as string | undefined,
    uid: Number(item.uid),
    runId: String(item.runId)
  }
}
