/**
 * Exports as callers see them (POST /sync/exports, GET /sync/exports/{export_id}): start one, read one, wait for
 * one to end, and the download URL of a finished one. The slice that writes the zip is export-slice.ts's;
 * RunTracker (run-kinds.ts) launches it, settles exports whose slice died and waits.
 */
import type { Logger } from 'pino'
import { NotFoundError } from '../../core/errors.ts'
import type { ExportRun, SyncExportsRepository } from '../../repositories/sync-exports.ts'
import type { SyncObjectsRepository } from '../../repositories/sync-objects.ts'
import type { SyncVaultsRepository } from '../../repositories/sync-vaults.ts'
import { checkAsOf, parseAsOf } from '../as-of.ts'
import type { Destinations } from '../destinations.ts'
import { runId as newRunId } from '../run-id.ts'
import type { RunBook, RunTracker } from '../run-kinds.ts'
import { EXPORTS_KEY_PREFIX } from '../../core/export-retention.ts'

/** The answer to a read of an export that does not exist. */
export const syncExportNotFound = (exportId: string): NotFoundError =>
  new NotFoundError('SYNC_EXPORT_NOT_FOUND', `Sync export ${exportId} not found`)

/** Exports as RunTracker reads and ends them. */
export function exportRunBook(exports: SyncExportsRepository): RunBook<ExportRun> {
  return {
    kind: 'export',
    read: exportId => exports.get(exportId),
    end: async (run, errors) => {
      await exports.finish(run.runId, 'failed', { filesCount: run.filesCount, bytes: run.bytes, errors })
    },
    endIdle: async (run, idleMs) => {
      const errors = [`The export stopped: no slice worked on it for ${Math.round(idleMs / 1000)} s`]
      await exports.finish(run.runId, 'failed', { filesCount: run.filesCount, bytes: run.bytes, errors })
    },
    notFound: syncExportNotFound
  }
}

export interface ExportRequest {
  vaultId: string
  /** RFC 3339 or epoch ms, as the schema lets it through; absent: now. */
  asOf?: string
  /** Which backup is read; the default destination otherwise. */
  destBucket?: string
  destPrefix?: string
}

export interface ExportServiceOptions {
  exports: SyncExportsRepository
  vaults: SyncVaultsRepository
  objects: SyncObjectsRepository
  destinations: Destinations
  /** Exports' tracker (exportRunBook's), on the launcher. */
  tracker: RunTracker<ExportRun>
  /** Where zips are written: the stack's sync bucket. */
  bucket: string
  log: Logger
}

export class ExportService {
  constructor(private readonly options: ExportServiceOptions) {}

  /**
   * Records an export of the vault at the moment and launches its slice. A moment the backup cannot show is 400
   * AS_OF_OUT_OF_RANGE, a destination not allowed 403, and nothing is recorded.
   */
  async start(request: ExportRequest): Promise<ExportRun> {
    const { exports, vaults, destinations, tracker, bucket, log } = this.options
    const target = destinations.target(request.destBucket, request.destPrefix)
    const now = Date.now()
    const asOf = request.asOf === undefined ? now : parseAsOf(request.asOf)
    checkAsOf(asOf, request.vaultId, await vaults.state(request.vaultId, target), now)
    const id = newRunId(now)
    const run = await exports.create({
      runId: id,
      vaultId: request.vaultId,
      asOf,
      destBucket: target.bucket,
      destPrefix: target.prefix,
      bucket,
      key: `${EXPORTS_KEY_PREFIX}${request.vaultId}/${id}.zip`,
      createdAt: now
    })
    log.info({ exportId: id, vaultId: request.vaultId, asOf }, 'sync export recorded')
    await tracker.launchFirst(run)
    return run
  }

  /** The export as it is (settled first), or undefined. */
  async get(exportId: string): Promise<ExportRun | undefined> {
    return await this.options.tracker.get(exportId)
  }

  /** The export once it has ended, or as it is after `ms`. */
  async waitFor(exportId: string, ms: number): Promise<ExportRun> {
    return await this.options.tracker.waitFor(exportId, ms)
  }

  /** A presigned download of a succeeded export's zip (as an attachment); null before. */
  async downloadUrl(run: ExportRun): Promise<string | null> {
    if (run.status !== 'succeeded') return null
    return (await this.options.objects.downloadUrl(run.bucket, run.key)).url
  }
}
