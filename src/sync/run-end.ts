/**
 * How a sync run ends, whoever ends it: its last slice, the slice past
 * SYNC_MAX_HOPS, a read that finds it dead, a start whose first slice could not
 * be launched, or a run that took over one of its vaults' leases.
 */
import type { Logger } from 'pino'
import {
  FINAL_STATUSES,
  type Run,
  type RunStatus,
  type SyncResult,
  type SyncRunsRepository,
  type VaultProgress
} from '../repositories/sync-runs.ts'
import type { SyncVaultsRepository } from '../repositories/sync-vaults.ts'
import type { SyncMetrics } from './metrics.ts'

export interface RunEndOptions {
  runs: SyncRunsRepository
  vaults: SyncVaultsRepository
  metrics: SyncMetrics
  /** The function's memory (MB, as Lambda gives it); undefined outside Lambda. */
  lambdaMemory?: string
  log: Logger
}

export class RunEnd {
  constructor(private readonly options: RunEndOptions) {}

  /** Ends the run with a status and result made from its vaults' progress. */
  async end(run: Run, runErrors: string[]): Promise<void> {
    const { runs, vaults, metrics, log } = this.options
    const progress = await runs.progress(run.runId)
    const { status, result } = summarize(run, progress, runErrors, this.options.lambdaMemory)
    if (!(await runs.finish(run.runId, status, result))) return
    // A run that never reached its vault still holds the lease start() took for it.
    if (run.vaultId !== undefined && !progress.some(p => p.vaultId === run.vaultId && p.outcome !== undefined))
      await vaults.releaseLease(run.vaultId, run.runId)
    await metrics.run(run.trigger, status === 'succeeded')
    log.info({ runId: run.runId, status, files: result.files_count }, 'sync run ended')
  }

  /** A run no slice has worked on for `idleMs`: done when its last vault was, else interrupted. */
  async endIdle(run: Run, idleMs: number): Promise<void> {
    const idle = Math.round(idleMs / 1000)
    const progress = await this.options.runs.progress(run.runId)
    // Died after its last vault was done, before the run's own end was recorded: it did finish.
    const done = run.plan !== undefined && run.plan.every(id => progress.some(p => p.vaultId === id && p.outcome))
    await this.end(run, done ? [] : [`Interrupted: no slice has worked on the run for ${idle} s; start it again`])
  }

  /** A run whose vault lease expired and was taken over by `by` stopped without ending: it ends now, failed. */
  async interrupted(previous: string, vaultId: string, by: string): Promise<void> {
    const run = await this.options.runs.get(previous)
    if (run === undefined || FINAL_STATUSES.includes(run.status)) return
    this.options.log.warn({ runId: previous, vaultId, by }, 'sync run interrupted: its lease expired')
    await this.options.runs.finishVault(previous, vaultId, 'failed')
    await this.end(run, [`vault ${vaultId}: interrupted; its lease expired and run ${by} took over`])
  }
}

export function summarize(
  run: Run,
  progress: VaultProgress[],
  runErrors: string[],
  /** The function's memory (MB, as Lambda gives it); null outside Lambda. */
  lambdaMemory?: string
): { status: RunStatus; result: SyncResult } {
  const finished = progress.filter(p => p.outcome !== undefined)
  const synced = finished.filter(p => p.outcome === 'ok' || p.outcome === 'errors')
  const failed = finished.filter(p => p.outcome === 'failed')
  const withErrors = finished.filter(p => p.outcome === 'errors')
  const unfinished = (run.plan ?? []).filter(id => !finished.some(p => p.vaultId === id))
  let status: RunStatus
  if (runErrors.length === 0 && failed.length === 0 && withErrors.length === 0 && unfinished.length === 0)
    status = 'succeeded'
  else if (synced.length === 0 && finished.every(p => p.outcome !== 'busy')) status = 'failed'
  else status = 'partial'
  const errors = [
    ...runErrors,
    ...progress.flatMap(p => p.messages.map(message => `vault ${p.vaultId}: ${message}`)),
    ...unfinished.map(id => `vault ${id}: not synced`)
  ]
  return {
    status,
    result: {
      run_id: run.runId,
      success: status === 'succeeded',
      vaults_synced: synced.map(p => p.vaultId),
      files_count: progress.reduce((sum, p) => sum + (p.seen ?? 0), 0),
      duration: `${((Date.now() - run.createdAt) / 1000).toFixed(3)}s`,
      errors,
      details: {
        sync_type: run.syncType,
        trigger: run.trigger,
        dest_bucket: run.destBucket,
        dest_prefix: run.destPrefix,
        hops: run.hops,
        lambda_memory: lambdaMemory ?? null
      }
    }
  }
}
