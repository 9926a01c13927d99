/**
 * The sync engine: records runs, cuts them into slices that fit an
 * invocation, and drives the Obsidian client and the repositories through
 * each vault of a run.
 *
 *   start     checks the destination and the account, takes the vault's lease
 *             (one run per vault), records the run and launches its first slice.
 *   runSlice  signs in, fixes the run's vaults once, and syncs them one after
 *             another until its deadline; then saves and launches the next slice,
 *             at most SYNC_MAX_HOPS in a chain. The last slice ends the run.
 *
 * A slice holds nothing a restart needs: a continuation delivered twice, or a
 * slice killed and started again, picks up from what is saved.
 */
import type { Logger } from 'pino'
import type { Config } from '../config.ts'
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.ts'
import {
  FINAL_STATUSES,
  type Run,
  type RunStatus,
  type RunTrigger,
  type SyncResult,
  type SyncRunsRepository,
  type SyncType,
  type VaultOutcome,
  type VaultProgress
} from '../repositories/sync-runs.ts'
import type { SyncObjectsRepository } from '../repositories/sync-objects.ts'
import type { SyncVaultsRepository, Target, VaultState } from '../repositories/sync-vaults.ts'
import { vaultPasswordFor, type Account, type AccountSettings, type RunCredentials } from './account.ts'
import { CipherCache } from './cipher-cache.ts'
import type { Continuation, SyncLauncher } from './launcher.ts'
import type { SyncMetrics } from './metrics.ts'
import { ObsidianError } from './obsidian/errors.ts'
import type { VaultInfo } from './obsidian/index.ts'
import { withRetries } from './retry.ts'
import { runId as newRunId } from './run-id.ts'

export const DEFAULT_DEST_PREFIX = 'vaults'

export interface StartRequest {
  vaultId?: string
  syncType: SyncType
  destBucket?: string
  destPrefix?: string
  credentials?: RunCredentials
  trigger: RunTrigger
}

/** A vault is being synced by another run: nothing was started. */
export class SyncBusyError extends ConflictError {
  constructor(
    vaultId: string,
    readonly runId: string
  ) {
    super('SYNC_IN_PROGRESS', `Vault ${vaultId} is being synced by run ${runId}`)
  }
}

export interface SyncEngineOptions {
  runs: SyncRunsRepository
  vaults: SyncVaultsRepository
  objects: SyncObjectsRepository
  account: AccountSettings
  config: Config['sync']
  apiUrl: string
  /** The stack's sync bucket: where a run goes when it names none. */
  bucket: string
  metrics: SyncMetrics
  log: Logger
}

export class SyncEngine {
  /** Set by whoever builds the engine, once it can run slices. */
  launcher: SyncLauncher | undefined
  private stopping = false
  private readonly ciphers = new CipherCache()

  constructor(private readonly options: SyncEngineOptions) {}

  get config(): Config['sync'] {
    return this.options.config
  }

  /** True when runs without credentials of their own (the schedule's) have an account to sign in with. */
  get accountConfigured(): boolean {
    return this.options.account.configured
  }

  /** Where a run (or a read of what one wrote) goes: the stack's sync bucket unless named, and only an allowed one. */
  target(destBucket?: string, destPrefix?: string): Target {
    const bucket = destBucket ?? this.options.bucket
    if (!this.options.config.allowedBuckets.includes(bucket)) {
      throw new ForbiddenError(
        'SYNC_BUCKET_NOT_ALLOWED',
        `dest_bucket ${JSON.stringify(bucket)} is not one of SYNC_ALLOWED_BUCKETS`
      )
    }
    return { bucket, prefix: destPrefix ?? DEFAULT_DEST_PREFIX }
  }

  /** Records a run and launches its first slice (or leaves that to the caller, with `launch: false`). */
  async start(request: StartRequest, { launch = true }: { launch?: boolean } = {}): Promise<Run> {
    const { runs, vaults } = this.options
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
    this.options.log.info({ runId: id, vaultId: request.vaultId, syncType: request.syncType }, 'sync run recorded')
    if (launch) {
      try {
        await this.launch({ runId: id, hop: 1, credentials: request.credentials })
      } catch (err) {
        await this.end(run, [`The run could not be started: ${(err as Error).message}`])
        throw err
      }
    }
    return run
  }

  /** A run and its vaults' progress, or undefined. */
  async get(runId: string): Promise<{ run: Run; progress: VaultProgress[] } | undefined> {
    const found = await this.options.runs.get(runId)
    if (found === undefined) return undefined
    const run = await this.settled(found)
    return { run, progress: await this.options.runs.progress(runId) }
  }

  /** Runs newest first, as GET /sync/runs lists them. */
  async list(limit: number, cursor?: string): Promise<{ runs: Run[]; cursor: string | null }> {
    const page = await this.options.runs.list(limit, cursor)
    return { runs: await Promise.all(page.runs.map(run => this.settled(run))), cursor: page.cursor }
  }

  /**
   * A run no slice has worked on for a lease's length died with its slice (a
   * crash, a timeout, a continuation never delivered): it ends now, failed, so
   * it never shows as running forever. A slice that still comes finds it ended.
   */
  private async settled(run: Run): Promise<Run> {
    if (FINAL_STATUSES.includes(run.status) || Date.now() - run.updatedAt < this.options.config.leaseMs) return run
    const idle = Math.round((Date.now() - run.updatedAt) / 1000)
    const progress = await this.options.runs.progress(run.runId)
    // Died after its last vault was done, before the run's own end was recorded: it did finish.
    const done = run.plan !== undefined && run.plan.every(id => progress.some(p => p.vaultId === id && p.outcome))
    await this.end(run, done ? [] : [`Interrupted: no slice has worked on the run for ${idle} s; start it again`])
    return (await this.options.runs.get(run.runId)) ?? run
  }

  /** The run once it has ended, or as it is after `ms`. */
  async waitFor(runId: string, ms: number): Promise<Run> {
    const until = Date.now() + ms
    for (;;) {
      const run = await this.options.runs.get(runId)
      if (run === undefined) throw new NotFoundError('SYNC_RUN_NOT_FOUND', `Sync run ${runId} not found`)
      if (FINAL_STATUSES.includes(run.status) || Date.now() >= until) return run
      await new Promise(resolve => setTimeout(resolve, Math.min(200, Math.max(0, until - Date.now()))))
    }
  }

  /**
   * The account's vaults (when an account is configured) beside every state
   * recorded, at each destination a vault was synced to.
   */
  async vaults(): Promise<Array<{ vault?: VaultInfo; state?: VaultState }>> {
    const states = await this.options.vaults.states()
    let account: VaultInfo[] = []
    if (this.options.account.configured) {
      const { ObsidianClient } = await import('./obsidian/client.ts')
      const client = new ObsidianClient({ apiUrl: this.options.apiUrl, log: this.options.log })
      try {
        const { credentials } = await this.options.account.resolve()
        const { token } = await withRetries(() => client.signIn(credentials))
        account = await withRetries(() => client.vaults(token))
      } catch (err) {
        // What is recorded still answers; the runs say why the account cannot be reached.
        if (!(err instanceof ObsidianError)) throw err
        this.options.log.warn({ code: err.code }, 'sync: the Obsidian account could not list its vaults')
      }
    }
    const rows: Array<{ vault?: VaultInfo; state?: VaultState }> = []
    for (const vault of account) {
      const own = states.filter(s => s.vaultId === vault.id)
      if (own.length === 0) rows.push({ vault })
      for (const state of own) rows.push({ vault, state })
    }
    for (const state of states) if (!account.some(v => v.id === state.vaultId)) rows.push({ state })
    return rows
  }

  /** Stops every slice of this process at its next change, and waits for them. */
  async stop(): Promise<void> {
    this.stopping = true
    await this.launcher?.close()
  }

  /** One slice of a run, working until `deadline` (epoch ms). */
  async runSlice(next: Continuation, deadline: number): Promise<void> {
    const { runs, config, log } = this.options
    const run = await runs.get(next.runId)
    if (run === undefined || FINAL_STATUSES.includes(run.status)) return
    if (next.hop > config.maxHops) {
      await this.end(run, [`The run stopped after ${config.maxHops} slices (SYNC_MAX_HOPS) without finishing`])
      return
    }
    if (!(await runs.markRunning(run.runId, next.hop))) return
    run.hops = next.hop
    const shouldPause = (): boolean => this.stopping || Date.now() >= deadline
    const target: Target = { bucket: run.destBucket, prefix: run.destPrefix }

    let account: Account
    let token: string
    let vaultList: VaultInfo[]
    // The Obsidian client (WebSocket, TOTP, ciphers) and the slice code load with the first run: a cold start
    // that serves no sync never parses them.
    const [{ ObsidianClient }, { LeaseLostError, syncVaultSlice }] = await Promise.all([
      import('./obsidian/client.ts'),
      import('./vault-sync.ts')
    ])
    const client = new ObsidianClient({ apiUrl: this.options.apiUrl, log })
    try {
      account = await this.options.account.resolve(next.credentials)
      token = (await withRetries(() => client.signIn(account.credentials))).token
      vaultList = await withRetries(() => client.vaults(token))
    } catch (err) {
      await this.end(run, [`Sign-in failed: ${(err as Error).message}`])
      return
    }
    const plan = run.plan ?? (await runs.fixPlan(run.runId, run.vaultId ? [run.vaultId] : vaultList.map(v => v.id)))
    const progress = new Map((await runs.progress(run.runId)).map(p => [p.vaultId, p]))
    let worked = false

    for (const vaultId of plan) {
      if (progress.get(vaultId)?.outcome !== undefined) continue
      if (worked && shouldPause()) return await this.launch({ ...next, hop: next.hop + 1 })
      const vault = vaultList.find(v => v.id === vaultId)
      if (vault === undefined) {
        await this.finishVault(
          run,
          target,
          vaultId,
          undefined,
          'failed',
          'The vault does not exist or this account cannot reach it'
        )
        continue
      }
      const lease = await this.options.vaults.acquireLease(vaultId, run.runId, config.leaseMs)
      if (!lease.acquired) {
        // One vault asked for: the run was meant to hold it. All vaults: it is another run's turn.
        if (run.vaultId !== undefined)
          await this.finishVault(
            run,
            target,
            vaultId,
            vault.name,
            'failed',
            `Another run (${lease.holder}) took over the vault`
          )
        else
          await this.finishVault(run, target, vaultId, vault.name, 'busy', `Skipped: run ${lease.holder} is syncing it`)
        continue
      }
      if (lease.tookOverFrom !== undefined) await this.interrupted(lease.tookOverFrom, vaultId, run.runId)
      const password = vaultPasswordFor(account, vault)
      if (password === undefined) {
        await this.finishVault(
          run,
          target,
          vaultId,
          vault.name,
          'failed',
          `No encryption password for vault ${vault.id}: send vault_password or set it in OBSIDIAN_VAULT_PASSWORDS`
        )
        continue
      }
      worked = true
      let result
      try {
        const cipher = await this.ciphers.get(vault, password, () => client.cipherFor(vault, password))
        result = await syncVaultSlice(
          { runs, vaults: this.options.vaults, objects: this.options.objects, log },
          {
            runId: run.runId,
            syncType: run.syncType,
            vault,
            token,
            cipher,
            target,
            client,
            shouldPause,
            concurrency: config.pullConcurrency,
            leaseMs: config.leaseMs,
            keptMessages: progress.get(vaultId)?.messages.length ?? 0
          }
        )
      } catch (err) {
        if (!(err instanceof ObsidianError)) throw err
        result = { finished: true, error: err, fileErrors: 0 }
      }
      if (!result.finished) return await this.launch({ ...next, hop: next.hop + 1 })
      if (result.error instanceof LeaseLostError) {
        // The vault is another run's now: its state is that run's to record.
        await runs.addProgress(run.runId, vaultId, zero, [result.error.message], vault.name, 0)
        await runs.finishVault(run.runId, vaultId, 'failed', vault.name)
        continue
      }
      const outcome: VaultOutcome = result.error ? 'failed' : result.fileErrors > 0 ? 'errors' : 'ok'
      await this.finishVault(run, target, vaultId, vault.name, outcome, result.error?.message, result.fileCount)
    }
    await this.end(run, [])
  }

  private async launch(next: Continuation): Promise<void> {
    if (this.launcher === undefined) throw new Error('The sync engine has no launcher')
    await this.launcher.launch(next)
  }

  /** Takes the vault's lease for a new run, or says which run has it. */
  private async lease(vaultId: string, runId: string): Promise<void> {
    const lease = await this.options.vaults.acquireLease(vaultId, runId, this.options.config.leaseMs)
    if (!lease.acquired) throw new SyncBusyError(vaultId, lease.holder)
    if (lease.tookOverFrom !== undefined) await this.interrupted(lease.tookOverFrom, vaultId, runId)
  }

  /** A run whose lease expired and was taken over stopped without ending: it ends now, failed. */
  private async interrupted(previous: string, vaultId: string, by: string): Promise<void> {
    const run = await this.options.runs.get(previous)
    if (run === undefined || FINAL_STATUSES.includes(run.status)) return
    this.options.log.warn({ runId: previous, vaultId, by }, 'sync run interrupted: its lease expired')
    await this.options.runs.finishVault(previous, vaultId, 'failed')
    await this.end(run, [`vault ${vaultId}: interrupted; its lease expired and run ${by} took over`])
  }

  private async finishVault(
    run: Run,
    target: Target,
    vaultId: string,
    name: string | undefined,
    outcome: VaultOutcome,
    message?: string,
    fileCount?: number
  ): Promise<void> {
    const { runs, vaults } = this.options
    if (message !== undefined) {
      const kept = (await runs.progress(run.runId)).find(p => p.vaultId === vaultId)?.messages.length ?? 0
      await runs.addProgress(run.runId, vaultId, zero, [message], name, kept)
    }
    await runs.finishVault(run.runId, vaultId, outcome, name)
    if (outcome !== 'busy') {
      await vaults.recordOutcome(vaultId, target, {
        runId: run.runId,
        name,
        error: outcome === 'ok' ? undefined : (message ?? 'Some files were refused or failed; see the run'),
        fileCount
      })
      await vaults.releaseLease(vaultId, run.runId)
      const progress = (await runs.progress(run.runId)).find(p => p.vaultId === vaultId)
      await this.options.metrics.vault({
        vaultId,
        durationMs: Date.now() - (progress?.startedAt ?? run.createdAt),
        files: progress?.seen ?? 0,
        bytes: progress?.bytes ?? 0,
        success: outcome === 'ok'
      })
    }
    this.options.log.info({ runId: run.runId, vaultId, outcome }, 'sync vault finished')
  }

  /** Ends the run with a status and result made from its vaults' progress. */
  private async end(run: Run, runErrors: string[]): Promise<void> {
    const progress = await this.options.runs.progress(run.runId)
    const { status, result } = summarize(run, progress, runErrors)
    if (!(await this.options.runs.finish(run.runId, status, result))) return
    // A run that never reached its vault still holds the lease start() took for it.
    if (run.vaultId !== undefined && !progress.some(p => p.vaultId === run.vaultId && p.outcome !== undefined))
      await this.options.vaults.releaseLease(run.vaultId, run.runId)
    await this.options.metrics.run(run.trigger, status === 'succeeded')
    this.options.log.info({ runId: run.runId, status, files: result.files_count }, 'sync run ended')
  }
}

const zero = { seen: 0, pulled: 0, skipped: 0, deleted: 0, bytes: 0, errors: 0 }

export function summarize(
  run: Run,
  progress: VaultProgress[],
  runErrors: string[]
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
        hops: run.hops
      }
    }
  }
}
