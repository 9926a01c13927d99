/**
 * A sync run's slices: each signs in (the first; later ones get its token),
 * fixes the run's vaults once, and syncs them, SYNC_VAULT_CONCURRENCY at once,
 * until its deadline; then it launches the next slice, at most SYNC_MAX_HOPS in
 * a chain. The last slice ends the run and signs out.
 *
 * A slice holds nothing a restart needs: a continuation delivered twice, or a
 * slice killed and started again, picks up from what is saved.
 */
import type { Logger } from 'pino'
import type { Config } from '../config/config.ts'
import type { Continuation } from '../aws/lambda-events.ts'
import {
  FINAL_STATUSES,
  zeroCounts,
  type Run,
  type SyncRunsRepository,
  type VaultOutcome,
  type VaultProgress
} from '../repositories/sync-runs.ts'
import type { SyncObjectsRepository } from '../repositories/sync-objects.ts'
import type { SyncVaultsRepository, Target } from '../repositories/sync-vaults.ts'
import { vaultPasswordFor, type Account, type AccountSettings } from './account.ts'
import type { SignIns } from './account-session.ts'
import { CipherCache } from './cipher-cache.ts'
import type { SyncMetrics } from './metrics.ts'
import { ObsidianError } from './obsidian/errors.ts'
import type { ObsidianClient, VaultInfo } from './obsidian/index.ts'
import type { RunEnd } from './run-end.ts'
import type { RunTracker, SliceWorker } from './run-kinds.ts'

export interface SyncSliceRunnerOptions {
  runs: SyncRunsRepository
  vaults: SyncVaultsRepository
  objects: SyncObjectsRepository
  account: AccountSettings
  config: Config['sync']
  apiUrl: string
  /** Shared with the vault listing: no two sign-ins of this process send the same two-factor code. */
  signIns: SignIns
  ends: RunEnd
  /** Launches the next slice. */
  tracker: Pick<RunTracker<Run>, 'launchNext'>
  metrics: SyncMetrics
  log: Logger
}

/** What every vault of a slice shares. */
interface VaultRun {
  run: Run
  target: Target
  account: Account
  token: string
  vaultList: VaultInfo[]
  progress: Map<string, VaultProgress>
  client: ObsidianClient
  shouldPause: () => boolean
  vaultSync: typeof import('./vault-sync.ts')
}

export class SyncSliceRunner implements SliceWorker {
  private stopping = false
  private readonly ciphers = new CipherCache()

  constructor(private readonly options: SyncSliceRunnerOptions) {}

  /** Stops every slice of this process at its next change. */
  stop(): void {
    this.stopping = true
  }

  /** One slice of a run, working until `deadline` (epoch ms). */
  async runSlice(next: Continuation, deadline: number): Promise<void> {
    const { runs, config, ends, log } = this.options
    if (next.hop > config.maxHops) return await this.tooManySlices(next)
    // Marked running in slice `hop`, and read back in the same write; undefined once it has ended.
    const run = await runs.markRunning(next.runId, next.hop)
    if (run === undefined) return
    const shouldPause = (): boolean => this.stopping || Date.now() >= deadline
    const target: Target = { bucket: run.destBucket, prefix: run.destPrefix }

    // The Obsidian client (WebSocket, TOTP, ciphers) and the slice code load with the first run: a cold start
    // that serves no sync never parses them.
    const [{ ObsidianClient }, vaultSync] = await Promise.all([
      import('./obsidian/client.ts'),
      import('./vault-sync.ts')
    ])
    const client = new ObsidianClient({ apiUrl: this.options.apiUrl, log })
    let account: Account
    let session: { token: string; vaults: VaultInfo[] }
    try {
      account = await this.options.account.resolve(next.credentials)
      session = await this.options.signIns.session(client, account.credentials, next.token)
    } catch (err) {
      await ends.end(run, [`Sign-in failed: ${(err as Error).message}`])
      return
    }
    const { token, vaults: vaultList } = session
    const plan = run.plan ?? (await runs.fixPlan(run.runId, run.vaultId ? [run.vaultId] : vaultList.map(v => v.id)))
    const progress = new Map((await runs.progress(run.runId)).map(p => [p.vaultId, p]))
    const pending = plan.filter(vaultId => progress.get(vaultId)?.outcome === undefined)

    // Vaults a few at once, each on its own connection. A slice takes no new vault once its time is up, but only
    // after it has worked on one, so every slice moves the run forward.
    let worked = false
    let paused = false
    let taken = 0
    const sync: VaultRun = { run, target, account, token, vaultList, progress, client, shouldPause, vaultSync }
    const worker = async (): Promise<void> => {
      while (!paused) {
        if (worked && shouldPause()) {
          paused = true
          return
        }
        const vaultId = pending[taken++]
        if (vaultId === undefined) return
        const outcome = await this.syncVault(sync, vaultId, () => {
          worked = true
        })
        if (outcome === 'paused') paused = true
      }
    }
    const workers = Math.max(1, Math.min(config.vaultConcurrency, pending.length))
    const settled = await Promise.allSettled(Array.from({ length: workers }, worker))
    const failure = settled.find(r => r.status === 'rejected')
    if (failure !== undefined) throw failure.reason
    if (paused) return await this.options.tracker.launchNext(next, { token })
    await this.options.signIns.signOut(client, token, log)
    await ends.end(run, [])
  }

  /** A slice past SYNC_MAX_HOPS ends its run instead of working on it. */
  private async tooManySlices(next: Continuation): Promise<void> {
    const { runs, config, log } = this.options
    const run = await runs.get(next.runId)
    if (run === undefined || FINAL_STATUSES.includes(run.status)) return
    // Signed out before the run ends, so whoever sees it ended sees its session closed.
    if (next.token !== undefined) {
      const { ObsidianClient } = await import('./obsidian/client.ts')
      await this.options.signIns.signOut(new ObsidianClient({ apiUrl: this.options.apiUrl, log }), next.token, log)
    }
    await this.options.ends.end(run, [
      `The run stopped after ${config.maxHops} slices (SYNC_MAX_HOPS) without finishing`
    ])
  }

  /** One vault's part of a slice: 'paused' when its time ran out before the vault was done. */
  private async syncVault(sync: VaultRun, vaultId: string, working: () => void): Promise<'done' | 'paused'> {
    const { runs, vaults, config, log } = this.options
    const { run, target, account, token, vaultList, progress, client, shouldPause } = sync
    const { LeaseLostError, syncVaultSlice } = sync.vaultSync
    const vault = vaultList.find(v => v.id === vaultId)
    if (vault === undefined) {
      // Not the account's: the run says so, and nothing is recorded for a vault id anyone may make up.
      const message = 'The vault does not exist or this account cannot reach it'
      await runs.addProgress(run.runId, vaultId, zeroCounts(), [message], undefined, 0)
      await runs.finishVault(run.runId, vaultId, 'failed')
      await vaults.releaseLease(vaultId, run.runId)
      return 'done'
    }
    const lease = await vaults.acquireLease(vaultId, run.runId, config.leaseMs)
    if (!lease.acquired) {
      // One vault asked for: the run was meant to hold it. All vaults: it is another run's turn.
      const message =
        run.vaultId !== undefined
          ? `Another run (${lease.holder}) took over the vault`
          : `Skipped: run ${lease.holder} is syncing it`
      await this.finishVault(run, target, vaultId, vault.name, run.vaultId !== undefined ? 'failed' : 'busy', message)
      return 'done'
    }
    if (lease.tookOverFrom !== undefined) await this.options.ends.interrupted(lease.tookOverFrom, vaultId, run.runId)
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
      return 'done'
    }
    working()
    let result
    try {
      const cipher = await this.ciphers.get(vault, password, () => client.cipherFor(vault, password))
      result = await syncVaultSlice(
        { runs, vaults, objects: this.options.objects, log },
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
    if (!result.finished) return 'paused'
    if (result.error instanceof LeaseLostError) {
      // The vault is another run's now: its state is that run's to record.
      await runs.addProgress(run.runId, vaultId, zeroCounts(), [result.error.message], vault.name, 0)
      await runs.finishVault(run.runId, vaultId, 'failed', vault.name)
      return 'done'
    }
    const outcome: VaultOutcome = result.error ? 'failed' : result.fileErrors > 0 ? 'errors' : 'ok'
    await this.finishVault(run, target, vaultId, vault.name, outcome, result.error?.message, result.fileCount)
    return 'done'
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
    const { runs, vaults, metrics, log } = this.options
    if (message !== undefined) {
      const kept = (await runs.progress(run.runId)).find(p => p.vaultId === vaultId)?.messages.length ?? 0
      await runs.addProgress(run.runId, vaultId, zeroCounts(), [message], name, kept)
    }
    // The outcome's write answers the vault's progress: its counters for the metrics, with no read of its own.
    const progress = await runs.finishVault(run.runId, vaultId, outcome, name)
    if (outcome !== 'busy') {
      await vaults.recordOutcome(vaultId, target, {
        runId: run.runId,
        name,
        error: outcome === 'ok' ? undefined : (message ?? 'Some files were refused or failed; see the run'),
        fileCount
      })
      await vaults.releaseLease(vaultId, run.runId)
      await metrics.vault({
        vaultId,
        durationMs: Date.now() - (progress.startedAt ?? run.createdAt),
        files: progress.seen ?? 0,
        bytes: progress.bytes ?? 0,
        success: outcome === 'ok'
      })
    }
    log.info({ runId: run.runId, vaultId, outcome }, 'sync vault finished')
  }
}
