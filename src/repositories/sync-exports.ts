/**
 * Exports of a vault at a moment (POST /sync/exports), in the sync table:
 *
 *   EXPORTS / <exportId>   what was asked (vault, moment, which backup), where the zip goes, its status, how
 *                          many files and bytes it holds, its errors.
 *
 * Status moves queued -> running -> succeeded | failed, each move one conditional update on a status that is
 * not final, so an export ends once. Items expire with the zip they describe: when the lifecycle rule deletes
 * it (exportExpiresAt, 7 days).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { ttlFromMillis } from '../core/expiry.ts'
import { exportExpiresAt } from '../core/export-retention.ts'
import { RunRecords } from './run-records.ts'

export type ExportStatus = 'queued' | 'running' | 'succeeded' | 'failed'

export interface ExportRun {
  /** The export's id (a UUIDv7), `runId` as every kind's runs call it. */
  runId: string
  status: ExportStatus
  vaultId: string
  /** The moment exported, epoch ms. */
  asOf: number
  /** The backup read: its bucket and prefix. */
  destBucket: string
  destPrefix: string
  /** Where the zip is written. */
  bucket: string
  key: string
  createdAt: number
  updatedAt: number
  startedAt?: number
  finishedAt?: number
  hops: number
  filesCount: number
  bytes: number
  errors: string[]
}

export type NewExport = Pick<
  ExportRun,
  'runId' | 'vaultId' | 'asOf' | 'destBucket' | 'destPrefix' | 'bucket' | 'key' | 'createdAt'
>

const EXPORTS = 'EXPORTS'

interface ExportItem extends ExportRun {
  pk: string
  sk: string
  ttl: number
}

const toExport = ({ pk: _pk, sk: _sk, ttl: _ttl, ...run }: ExportItem): ExportRun => run

export interface SyncExportsRepositoryOptions {
  dynamodb: DynamoDBClient
  table: string
}

export class SyncExportsRepository extends RunRecords {
  constructor(options: SyncExportsRepositoryOptions) {
    super(options, EXPORTS)
  }

  async create(run: NewExport): Promise<ExportRun> {
    const item: ExportItem = {
      ...run,
      pk: EXPORTS,
      sk: run.runId,
      status: 'queued',
      hops: 0,
      filesCount: 0,
      bytes: 0,
      errors: [],
      updatedAt: run.createdAt,
      ttl: ttlFromMillis(exportExpiresAt(run.createdAt))
    }
    await this.putNew(item)
    return toExport(item)
  }

  async get(exportId: string): Promise<ExportRun | undefined> {
    const item = await this.read(exportId)
    return item === undefined ? undefined : toExport(item as unknown as ExportItem)
  }

  /** Marks the export running in slice `hop`: the export as it is now, or undefined when it has ended. */
  async markRunning(exportId: string, hop: number): Promise<ExportRun | undefined> {
    const item = await this.markRunningRecord(exportId, hop)
    return item === undefined ? undefined : toExport(item as unknown as ExportItem)
  }

  /** A slice's heartbeat with the progress so far; false when the export has ended. */
  async touch(exportId: string, progress: { filesCount: number; bytes: number }): Promise<boolean> {
    const values = { ':now': Date.now(), ':files': progress.filesCount, ':bytes': progress.bytes }
    return (
      (await this.updateLive(exportId, 'SET updatedAt = :now, filesCount = :files, bytes = :bytes', values)) !==
      undefined
    )
  }

  /** Ends the export; false when it had already ended. */
  async finish(
    exportId: string,
    status: 'succeeded' | 'failed',
    outcome: { filesCount: number; bytes: number; errors: string[] }
  ): Promise<boolean> {
    const now = Date.now()
    const ended = await this.updateLive(
      exportId,
      'SET #status = :status, filesCount = :files, bytes = :bytes, #errors = :errors, finishedAt = :now, updatedAt = :now',
      {
        ':status': status,
        ':files': outcome.filesCount,
        ':bytes': outcome.bytes,
        ':errors': outcome.errors,
        ':now': now
      },
      { '#errors': 'errors' }
    )
    return ended !== undefined
  }
}
