/**
 * The sync engine: records runs, cuts them into slices that fit an
 * invocation, and drives the Obsidian client and the repositories through
 * each vault of a run.
 *
 *   start     checks the destination and the account, takes the vault's lease
 *             (one run per vault), records the run and launches its first slice.
 *   runSlice  signs in (the first slice; later ones get its token), fixes the
 *             run's vaults once, and syncs them, SYNC_VAULT_CONCURRENCY at once,
 *             until its deadline; then saves and launches the next slice, at
 *             most SYNC_MAX_HOPS in a chain. The last slice ends the run and
 *             signs out.
 *
 * A slice holds nothing a restart needs: a continuation delivered twice, or a
 * slice killed and started again, picks up from what is saved.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { Config } from '../config.ts'
import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError } from '../errors.ts'
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
import { SignIns } from './account-session.ts'
import { CipherCache } from './cipher-cache.ts'
import type { Continuation } from '../lambda-events.ts'
import type { SyncLauncher } from './launcher.ts'
import type { SyncMetrics } from './metrics.ts'
import { ObsidianError } from './obsidian/errors.ts'
import { OBSIDIAN_RETRY } from './obsidian-retry.ts'
import type { ObsidianClient, VaultInfo } from './obsidian/index.ts'
import { isKeySegment } from './paths.ts'
import { poll } from '../poll.ts'
import { withRetries } from '../retry.ts'
import { runId as newRunId } from './run-id.ts'

export const DEFAULT_DEST_PREFIX = 'vaults'
/** GET /sync/vaults waits this long for the account's vault list (API Gateway gives a request 30 s)… */
const VAULT_LIST_WAIT_MS = 3000
/** …and when the service is slower, answers with the list it last got, if it is this recent. */
const VAULT_LIST_CACHE_MS = 15 * 60_000

export interface StartRequest {
  vaultId?: string
  syncType: SyncType
  destBucket?: string
  destPrefix?: string
  credentials?: RunCredentials
  trigger: RunTrigger
}

/** A vault is being synced by another run: nothing was started. The 409 names that run, in its body and Location. */
export class SyncBusyError extends ConflictError {
  constructor(
    vaultId: string,
    readonly runId: string
  ) {
    super('SYNC_IN_PROGRESS', `Vault ${vaultId} is being synced by run ${runId}`, {
      details: { run_id: runId },
      headers: { location: `/sync/runs/${runId}` }
    })
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
  private readonly signIns = new SignIns()
  /** The configured account's vaults as last listed, and a listing under way. */
  private vaultList: { at: number; vaults: VaultInfo[] } | undefined
  private listing: Promise<VaultInfo[]> | undefined

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
    const prefix = destPrefix ?? DEFAULT_DEST_PREFIX
    // Keys are <prefix>/<vault id>/<path>: a prefix of more than one segment could reach into another vault's.
    if (!isKeySegment(prefix))
      throw new InvalidInputError(
        'SYNC_DEST_PREFIX_INVALID',
        'dest_prefix must be one segment (no /) of letters, digits, _ . - and not . or ..'
      )
    return { bucket, prefix }
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
    let run: Run | undefined
    const ended = await poll(
      async () => {
        run = await this.options.runs.get(runId)
        if (run === undefined) throw new NotFoundError('SYNC_RUN_NOT_FOUND', `Sync run ${runId} not found`)
        return FINAL_STATUSES.includes(run.status) ? run : undefined
      },
      { intervalMs: 200, timeoutMs: ms }
    )
    return ended ?? run!
  }

  /**
   * The account's vaults (when an account is configured) beside every state
   * recorded, at each destination a vault was synced to.
   */
  async vaults(): Promise<Array<{ vault?: VaultInfo; state?: VaultState }>> {
    const [states, account] = await Promise.all([this.options.vaults.states(), this.accountVaults()])
    const rows: Array<{ vault?: VaultInfo; state?: VaultState }> = []
    for (const vault of account) {
      const own = states.filter(s => s.vaultId === vault.id)
      if (own.length === 0) rows.push({ vault })
      for (const state of own) rows.push({ vault, state })
    }
    for (const state of states) if (!account.some(v => v.id === state.vaultId)) rows.push({ state })
    return rows
  }

  /**
   * The configured account's vaults, within VAULT_LIST_WAIT_MS: from the service when it answers in time, else
   * the list it last gave (up to VAULT_LIST_CACHE_MS old), else none; what is recorded answers either way. A
   * listing that outlasts the wait goes on in the background and refreshes the list for the next request.
   */
  private async accountVaults(): Promise<VaultInfo[]> {
    if (!this.options.account.configured) return []
    this.listing ??= this.listVaults().finally(() => {
      this.listing = undefined
    })
    const outcome = await Promise.race([
      this.listing.then(
        vaults => ({ vaults }),
        (err: unknown) => ({ err })
      ),
      sleep(VAULT_LIST_WAIT_MS, undefined, { ref: false }).then(() => ({ slow: true }))
    ])
    if ('vaults' in outcome) return outcome.vaults
    if ('err' in outcome && !(outcome.err instanceof ObsidianError)) throw outcome.err
    const cached = this.vaultList !== undefined && Date.now() - this.vaultList.at < VAULT_LIST_CACHE_MS
    this.options.log.warn(
      { code: 'err' in outcome ? (outcome.err as ObsidianError).code : 'SLOW', cached },
      'sync: the Obsidian account did not list its vaults in time'
    )
    return cached ? this.vaultList!.vaults : []
  }

  /** Signs in, lists the account's vaults, signs out. */
  private async listVaults(): Promise<VaultInfo[]> {
    const { ObsidianClient } = await import('./obsidian/client.ts')
    const client = new ObsidianClient({ apiUrl: this.options.apiUrl, log: this.options.log })
    const { credentials } = await this.options.account.resolve()
    const token = await this.signIns.signIn(client, credentials)
    try {
      const vaults = await withRetries(() => client.vaults(token), OBSIDIAN_RETRY)
      this.vaultList = { at: Date.now(), vaults }
      return vaults
    } finally {
      await this.signIns.signOut(client, token, this.options.log)
    }
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
      // Signed out before the run ends, so whoever sees it ended sees its session closed.
      if (next.token !== undefined) {
        const { ObsidianClient } = await import('./obsidian/client.ts')
        await this.signIns.signOut(new ObsidianClient({ apiUrl: this.options.apiUrl, log }), next.token, log)
      }
      await this.end(run, [`The run stopped after ${config.maxHops} slices (SYNC_MAX_HOPS) without finishing`])
      return
    }
    if (!(await runs.markRunning(run.runId, next.hop))) return
    run.hops = next.hop
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
      session = await this.signedIn(client, account, next.token)
    } catch (err) {
      await this.end(run, [`Sign-in failed: ${(err as Error).message}`])
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
    if (paused) return await this.launch({ ...next, hop: next.hop + 1, token })
    await this.signIns.signOut(client, token, log)
    await this.end(run, [])
  }

  /**
   * The run's Obsidian session and the account's vaults: with the token an earlier slice signed in to, or, the
   * first time (or once that token is no longer valid), after signing in.
   */
  private async signedIn(
    client: ObsidianClient,
    account: Account,
    carried: string | undefined
  ): Promise<{ token: string; vaults: VaultInfo[] }> {
    if (carried !== undefined) {
      try {
        return { token: carried, vaults: await withRetries(() => client.vaults(carried), OBSIDIAN_RETRY) }
      } catch (err) {
        if (!(err instanceof ObsidianError) || err.code !== 'NOT_LOGGED_IN') throw err
      }
    }
    const token = await this.signIns.signIn(client, account.credentials)
    return { token, vaults: await withRetries(() => client.vaults(token), OBSIDIAN_RETRY) }
  }

  /** One vault's part of a slice: 'paused' when its time ran out before the vault was done. */
  private async syncVault(sync: VaultRun, vaultId: string, working: () => void): Promise<'done' | 'paused'> {
    const { runs, config, log } = this.options
    const { run, target, account, token, vaultList, progress, client, shouldPause } = sync
    const { LeaseLostError, syncVaultSlice } = sync.vaultSync
    const vault = vaultList.find(v => v.id === vaultId)
    if (vault === undefined) {
      // Not the account's: the run says so, and nothing is recorded for a vault id anyone may make up.
      const message = 'The vault does not exist or this account cannot reach it'
      await runs.addProgress(run.runId, vaultId, zero, [message], undefined, 0)
      await runs.finishVault(run.runId, vaultId, 'failed')
      await this.options.vaults.releaseLease(vaultId, run.runId)
      return 'done'
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
      return 'done'
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
      return 'done'
    }
    working()
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
    if (!result.finished) return 'paused'
    if (result.error instanceof LeaseLostError) {
      // The vault is another run's now: its state is that run's to record.
      await runs.addProgress(run.runId, vaultId, zero, [result.error.message], vault.name, 0)
      await runs.finishVault(run.runId, vaultId, 'failed', vault.name)
      return 'done'
    }
    const outcome: VaultOutcome = result.error ? 'failed' : result.fileErrors > 0 ? 'errors' : 'ok'
    await this.finishVault(run, target, vaultId, vault.name, outcome, result.error?.message, result.fileCount)
    return 'done'
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
    const { status, result } = summarize(run, progress, runErrors, this.options.config.lambdaMemory)
    if (!(await this.options.runs.finish(run.runId, status, result))) return
    // A run that never reached its vault still holds the lease start() took for it.
    if (run.vaultId !== undefined && !progress.some(p => p.vaultId === run.vaultId && p.outcome !== undefined))
      await this.options.vaults.releaseLease(run.vaultId, run.runId)
    await this.options.metrics.run(run.trigger, status === 'succeeded')
    this.options.log.info({ runId: run.runId, status, files: result.files_count }, 'sync run ended')
  }
}

const zero = { seen: 0, pulled: 0, skipped: 0, deleted: 0, bytes: 0, errors: 0 }

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
