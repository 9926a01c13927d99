/**
 * An export's slice: the vault as the backup held it at the export's moment, listed a page of versions at a
 * time and each version's bytes streamed in turn into one zip, written as a multipart upload into the sync bucket
 * (writeZipToS3: bounded memory whatever the vault's size).
 *
 * One slice writes the whole zip; it does not stop at the slice's deadline. A multipart upload cannot be handed
 * to the next slice mid-stream (the zip writer's state, its CRCs and offsets, lives in this process), so a slice
 * stopping at its deadline could only abort and start again, with the same budget, and never finish a zip that
 * needs more. The bound is the function's timeout (template.yaml Timeout, the time budget's ceiling). While it
 * writes, the slice heartbeats the export (its progress, and updatedAt), so RunTracker does not take it for
 * dead; a slice that is killed stops heartbeating, and after a lease's length the export is ended failed
 * (RunTracker.settled), its incomplete upload removed by the bucket's AbortIncompleteUploads rule.
 */
import type { S3Client } from '@aws-sdk/client-s3'
import type { Logger } from 'pino'
import type { Continuation } from '../../aws/lambda-events.ts'
import type { ExportRun, SyncExportsRepository } from '../../repositories/sync-exports.ts'
import type { SyncHistoryRepository } from '../../repositories/sync-history.ts'
import { vaultKeyPrefix } from '../paths.ts'
import type { SliceWorker } from '../run-kinds.ts'
import { writeZipToS3 } from './zip-to-s3.ts'
import type { ZipEntry, ZipStats } from './zip-stream.ts'

export interface ExportSliceOptions {
  exports: SyncExportsRepository
  history: SyncHistoryRepository
  s3: S3Client
  /** How often a running export says it is alive: well under a lease's length. */
  heartbeatMs: number
  log: Logger
}

export class ExportSliceRunner implements SliceWorker {
  private readonly stopping = new AbortController()

  constructor(private readonly options: ExportSliceOptions) {}

  async runSlice(next: Continuation, _deadline: number): Promise<void> {
    const { exports, s3, heartbeatMs, log } = this.options
    const run = await exports.markRunning(next.runId, next.hop)
    if (run === undefined) return
    const stats: ZipStats = { files_count: 0, bytes: 0 }
    const progress = () => ({ filesCount: stats.files_count, bytes: stats.bytes })
    const heartbeat = setInterval(() => {
      exports.touch(run.runId, progress()).catch(err => log.warn({ err, exportId: run.runId }, 'export heartbeat'))
    }, heartbeatMs)
    try {
      await writeZipToS3({
        s3,
        bucket: run.bucket,
        key: run.key,
        entries: this.entries(run),
        signal: this.stopping.signal,
        stats
      })
      await exports.finish(run.runId, 'succeeded', { ...progress(), errors: [] })
      log.info({ exportId: run.runId, ...stats }, 'sync export written')
    } catch (err) {
      log.warn({ err, exportId: run.runId }, 'sync export failed')
      const errors = [`The export failed: ${(err as Error).message}`]
      await exports.finish(run.runId, 'failed', { ...progress(), errors })
    } finally {
      clearInterval(heartbeat)
    }
  }

  stop(): void {
    this.stopping.abort(new Error('The process is closing'))
  }

  /** The vault's files at the export's moment, each opened (its version's bytes) when the zip comes to it. */
  private async *entries(run: ExportRun): AsyncGenerator<ZipEntry> {
    const { history } = this.options
    const prefix = vaultKeyPrefix(run.destPrefix, run.vaultId)
    for await (const file of history.filesAsOf(run.destBucket, prefix, run.asOf))
      yield {
        path: file.path,
        mtime: file.mtime,
        size: file.size,
        open: async () => (await history.open(run.destBucket, file.s3_key, file.version_id)).body
      }
  }
}
