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
import type { Readable } from 'node:stream'
import type { S3Client } from '@aws-sdk/client-s3'
import type { Logger } from 'pino'
import type { Continuation } from '../../aws/lambda-events.ts'
import type { ExportRun, SyncExportsRepository } from '../../repositories/sync-exports.ts'
import type { PastFile, SyncHistoryRepository } from '../../repositories/sync-history.ts'
import { vaultKeyPrefix } from '../../repositories/sync-paths.ts'
import type { SliceWorker } from '../run-kinds.ts'
import { writeZipToS3 } from './zip-to-s3.ts'
import type { ZipEntry, ZipStats } from './zip-stream.ts'

/** Small files whose GET is under way before the zip reaches them. */
const READ_AHEAD = 8
/** A file read ahead is at most this large: its answer fits a socket's buffers. */
const READ_AHEAD_MAX_BYTES = 64 * 1024

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

  /**
   * The vault's files at the export's moment. A small file's GET starts up to READ_AHEAD files before the zip
   * comes to it, so the zip does not wait a round trip per note; its whole answer fits the socket's buffers, so
   * S3 is never left waiting on a reader (a larger file is opened when its turn comes, as a stalled answer could
   * be cut), and what is held ahead stays under READ_AHEAD × READ_AHEAD_MAX_BYTES.
   */
  private async *entries(run: ExportRun): AsyncGenerator<ZipEntry> {
    const { history } = this.options
    const prefix = vaultKeyPrefix(run.destPrefix, run.vaultId)
    const ahead: Array<{ file: PastFile; body: Promise<Readable> }> = []
    const entry = ({ file, body }: { file: PastFile; body: Promise<Readable> }): ZipEntry => ({
      path: file.path,
      mtime: file.mtime,
      size: file.size,
      open: () => body
    })
    try {
      for await (const file of history.filesAsOf(run.destBucket, prefix, run.asOf)) {
        const open = () => history.open(run.destBucket, file.s3_key, file.version_id).then(opened => opened.body)
        if (file.size > READ_AHEAD_MAX_BYTES) {
          while (ahead.length > 0) yield entry(ahead.shift()!)
          yield { path: file.path, mtime: file.mtime, size: file.size, open }
          continue
        }
        const body = open()
        // Its failure is the zip's to report when it opens the file; until then it is not unhandled.
        body.catch(() => {})
        ahead.push({ file, body })
        if (ahead.length > READ_AHEAD) yield entry(ahead.shift()!)
      }
      while (ahead.length > 0) yield entry(ahead.shift()!)
    } finally {
      // The zip stopped early: the GETs started for it are closed.
      for (const { body } of ahead)
        body.then(
          b => b.destroy(),
          () => {}
        )
    }
  }
}
