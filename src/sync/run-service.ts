/**
 * Sync runs as callers see them (POST /sync, GET /sync/runs, the schedule, the
 * CLI): start one, read one, list them, wait for one to end. The slices that do
 * the work are slice-runner.ts's; RunTracker (run-kinds.ts) launches the first
 * one, settles runs whose slices died and waits.
 */
import type { Logger } from 'pino'
import { NotFoundError } from '../core/errors.ts'
import type { Run, SyncRunsRepository, VaultProgress } from '../repositories/sync-runs.ts'
import type { SyncVaultsRepository, Target } from '../repositories/sync-vaults.ts'
import type { AccountSettings } from './account.ts'
import type { Destinations } from './destinations.ts'
import { SyncBusyError, type StartRequest } from './engine.ts'
import type { RunEnd } from './run-end.ts'
import type { RunBook, RunTracker } from './run-kinds.ts'
import { runId as newRunId } from './run-id.ts'

/** The answer to a read of a run that does not exist. */
export const syncRunNotFound = (runId: string): NotFoundError =>
  new NotFoundError('SYNC_RUN_NOT_FOUND', `Sync run ${runId} not found`)

/** Sync runs as RunTracker reads and ends them. */
export function syncRunBook(runs: SyncRunsRepository, ends: RunEnd): RunBook<Run> {
  return {
    kind: 'sync',
    read: runId => runs.get(runId),
    end: (run, errors) => ends.end(run, errors),
    endIdle: (run, idleMs) => ends.endIdle(run, idleMs),
    notFound: syncRunNotFound
  }
}

export interface SyncRunServiceOptions {
  runs: SyncRunsRepository
  vaults: SyncVaultsRepository
  account: AccountSettings
  destinations: Destinations
  ends: RunEnd
  /** Sync runs' tracker (syncRunBook's), on the launcher. */
  tracker: RunTracker<Run>
  leaseMs: number
  log: Logger
}

export class SyncRunService {
  private readonly tracker: RunTracker<Run>

  constructor(private readonly options: SyncRunServiceOptions) {
    this.tracker = options.tracker
  }

  /** True when runs without credentials of their own (the schedule's) have an account to sign in with. */
  get accountConfigured(): boolean {
    return this.options.account.configured
  }

  /** Where a run (or a read of what one wrote) goes: the stack's sync bucket unless named, and only an allowed one. */
  target(destBucket?: string, destPrefix?: string): Target {
    return this.options.destinations.target(destBucket, destPrefix)
  }

  /** Records a run and launches its first slice (or leaves that to the caller, with `launch: false`). */
  async start(request: StartRequest, { launch = true }: { launch?: boolean } = {}): Promise<Run> {
    const { runs, vaults, log } = this.options
    const target = this.target(request.destBucket, request.destPrefix)
    // Fails now, as a 400, when there is no account to sign in with.
    await this.options.account.resolve(request.credentials)
    const id = newRunId()
    if (request.vaultId !== undefined) await this.lease(request.vaultId, id)
    let run: Run
    try {
      run = await runs.create({
        runId: id,
        syncType: request.syncType,
        trigger: request.trigger,
        vaultId: request.vaultId,
        destBucket: target.bucket,
        destPrefix: target.prefix,
        createdAt: Date.now()
      })
    } catch (err) {
      if (request.vaultId !== undefined) await vaults.releaseLease(request.vaultId, id)
      throw err
    }
    log.info({ runId: id, vaultId: request.vaultId, syncType: request.syncType }, 'sync run recorded')
    if (launch) await this.tracker.launchFirst(run, { credentials: request.credentials })
    return run
  }

  /** A run and its vaults' progress, or undefined. */
  async get(runId: string): Promise<{ run: Run; progress: VaultProgress[] } | undefined> {
    const run = await this.tracker.get(runId)
    if (run === undefined) return undefined
    return { run, progress: await this.options.runs.progress(runId) }
  }

  /** Runs newest first, as GET /sync/runs lists them. */
  async list(limit: number, cursor?: string): Promise<{ runs: Run[]; cursor: string | null }> {
    const page = await this.options.runs.list(limit, cursor)
    return { runs: await Promise.all(page.runs.map(run => this.tracker.settled(run))), cursor: page.cursor }
  }

  /** The run once it has ended, or as it is after `ms`. */
  async waitFor(runId: string, ms: number): Promise<Run> {
    return await this.tracker.waitFor(runId, ms)
  }

  /** Takes the vault's lease for a new run, or says which run has it. */
  private async lease(vaultId: string, runId: string): Promise<void> {
    const lease = await this.options.vaults.acquireLease(vaultId, runId, this.options.leaseMs)
    if (!lease.acquired) throw new SyncBusyError(vaultId, lease.holder)
    if (lease.tookOverFrom !== undefined) await this.options.ends.interrupted(lease.tookOverFrom, vaultId, runId)
  }
}
