/**
 * A restore's slices. Each signs in (the first; later ones get its token),
 * creates the new vault (the first to get there; its id is recorded at once,
 * since a create tried again would make a second vault) or reopens it, and
 * uploads the files of the backup at the restore's moment through
 * restoreUpload until its deadline, after at least one upload, so every slice
 * moves the restore forward. Then it launches the next slice, carrying the
 * token and the target password (never stored), or ends the restore.
 *
 * A slice holds nothing a restart needs: restoreUpload skips what the target
 * already holds, so a slice started again, or the next one, uploads no file
 * twice.
 */
import type { Logger } from 'pino'
import type { Continuation } from '../aws/lambda-events.ts'
import type { Config } from '../config/config.ts'
import { MAX_SYNC_ERROR_MESSAGES } from '../core/limits.ts'
import type { SyncHistoryRepository } from '../repositories/sync-history.ts'
import type { Restore, RestoreTotals, SyncRestoresRepository } from '../repositories/sync-restores.ts'
import type { AccountSettings } from './account.ts'
import type { SignIns } from './account-session.ts'
import { ObsidianError, type ObsidianClient, type VaultCipher, type VaultInfo } from './obsidian/index.ts'
import { vaultKeyPrefix } from '../repositories/sync-paths.ts'
import type { RestoreEntry, RestoreProgress, RestoreResult } from './restore-upload.ts'
import type { RunTracker, SliceWorker } from './run-kinds.ts'
import { totalsOf } from './restore-service.ts'

/** How often a slice saves its counts (and says it is alive), at most. */
const SAVE_EVERY_MS = 2000

export interface RestoreSliceRunnerOptions {
  restores: SyncRestoresRepository
  history: SyncHistoryRepository
  account: AccountSettings
  config: Config['sync']
  apiUrl: string
  signIns: SignIns
  tracker: Pick<RunTracker<Restore>, 'launchNext'>
  log: Logger
}

export class RestoreSliceRunner implements SliceWorker {
  private stopping = false

  constructor(private readonly options: RestoreSliceRunnerOptions) {}

  stop(): void {
    this.stopping = true
  }

  async runSlice(next: Continuation, deadline: number): Promise<void> {
    const { restores, config } = this.options
    if (next.hop > config.maxHops) {
      const restore = await restores.get(next.runId)
      if (next.token !== undefined) {
        const { ObsidianClient } = await import('./obsidian/client.ts')
        const client = new ObsidianClient({ apiUrl: this.options.apiUrl, log: this.options.log })
        await this.options.signIns.signOut(client, next.token, this.options.log)
      }
      if (restore !== undefined)
        await restores.finish(restore.runId, 'failed', totalsOf(restore), [
          `The restore stopped after ${config.maxHops} slices (SYNC_MAX_HOPS) without finishing`
        ])
      return
    }
    const restore = await restores.markRunning(next.runId, next.hop)
    if (restore === undefined) return
    try {
      await this.work(restore, next, deadline)
    } catch (err) {
      if (!(err instanceof ObsidianError)) throw err
      await restores.finish(restore.runId, 'failed', totalsOf(restore), [`Obsidian: ${err.message}`])
    }
  }

  private async work(restore: Restore, next: Continuation, deadline: number): Promise<void> {
    const { restores, log } = this.options
    const { restoreUpload } = await import('./restore-upload.ts')
    const progress = new SliceProgress(restores, restore.runId, log)
    let uploadedHere = 0
    const onProgress = (p: RestoreProgress): void => {
      if (p.action === 'uploaded') uploadedHere++
      progress.note(p)
    }
    // Time is up only once this slice uploaded something: a slice that skips what earlier ones uploaded moves on.
    const shouldPause = (): boolean => this.stopping || (uploadedHere > 0 && Date.now() >= deadline)
    const entries = this.entriesOf(restore)

    if (restore.dryRun) {
      const result = await restoreUpload({ entries, dryRun: true, onProgress })
      return await this.end(restore, result, progress)
    }

    const { ObsidianClient } = await import('./obsidian/client.ts')
    const client = new ObsidianClient({ apiUrl: this.options.apiUrl, log })
    let session: { token: string; vaults: VaultInfo[] }
    try {
      const account = await this.options.account.resolve(next.credentials)
      session = await this.options.signIns.session(client, account.credentials, next.token)
    } catch (err) {
      await restores.finish(restore.runId, 'failed', zero(), [`Sign-in failed: ${(err as Error).message}`])
      return
    }
    const { token } = session
    const target = await this.targetOf(restore, client, session, next.targetPassword)
    if (target === undefined) {
      await restores.finish(restore.runId, 'failed', zero(), [
        `The vault this restore created (${restore.targetVaultId}) is no longer in the account`
      ])
      return
    }
    const result = await restoreUpload({
      entries,
      open: () => client.openVault({ token, vault: target.vault, cipher: target.cipher, initial: true }),
      onProgress,
      shouldPause,
      log
    })
    if (!result.finished) {
      await progress.flushed()
      await restores.endSlice(restore.runId, uploadedHere)
      return await this.options.tracker.launchNext(next, { token })
    }
    await this.options.signIns.signOut(client, token, log)
    await this.end(restore, result, progress)
  }

  /** The new vault and its keys: created by the first slice to get here, found again by the others. */
  private async targetOf(
    restore: Restore,
    client: ObsidianClient,
    session: { token: string; vaults: VaultInfo[] },
    password: string | undefined
  ): Promise<{ vault: VaultInfo; cipher: VaultCipher } | undefined> {
    const { restores, log } = this.options
    if (restore.targetVaultId === undefined) {
      const created = await client.createVault({
        token: session.token,
        name: restore.targetName,
        encryption: restore.encryption,
        password: restore.encryption === 'end-to-end' ? password : undefined
      })
      const recorded = await restores.setTarget(restore.runId, created.vault.id)
      log.info({ restoreId: restore.runId, targetVaultId: created.vault.id }, 'restore: vault created')
      if (recorded === created.vault.id) return created
      restore = { ...restore, targetVaultId: recorded }
    }
    const vault = session.vaults.find(v => v.id === restore.targetVaultId)
    if (vault === undefined) return undefined
    // A standard vault's key comes from the password the service lists, whatever the request sent.
    const key = restore.encryption === 'end-to-end' ? password : vault.password
    return { vault, cipher: await client.cipherFor(vault, key ?? '') }
  }

  /** The files of the backup at the restore's moment, each opened (its version's bytes) only when uploaded. */
  private async *entriesOf(restore: Restore): AsyncGenerator<RestoreEntry> {
    const { history } = this.options
    const prefix = vaultKeyPrefix(restore.destPrefix, restore.vaultId)
    for await (const file of history.filesAsOf(restore.destBucket, prefix, restore.asOf)) {
      yield {
        path: file.path,
        mtime: file.mtime,
        size: file.size,
        sha256: file.sha256,
        open: async () => (await history.open(restore.destBucket, file.s3_key, file.version_id)).body
      }
    }
  }

  /**
   * Ends the restore with the last pass's counts: that pass saw every file, and counted as skipped the ones
   * earlier slices uploaded, which count as uploaded instead.
   */
  private async end(restore: Restore, result: RestoreResult, progress: SliceProgress): Promise<void> {
    await progress.flushed()
    const earlier = restore.uploadedBefore
    const totals: RestoreTotals = {
      files_count: result.files_count,
      uploaded: earlier + result.uploaded,
      skipped: Math.max(0, result.skipped - earlier),
      errors: result.errors
    }
    const status = result.errors > 0 ? 'partial' : 'succeeded'
    await this.options.restores.finish(restore.runId, status, totals, progress.errors)
    this.options.log.info({ restoreId: restore.runId, ...totals }, 'restore ended')
  }
}

/** A slice's counts, saved now and then (one write at a time), and its first errors. */
class SliceProgress {
  readonly errors: string[] = []
  private saving: Promise<void> = Promise.resolve()
  private lastSave = 0

  constructor(
    private readonly restores: SyncRestoresRepository,
    private readonly restoreId: string,
    private readonly log: Logger
  ) {}

  note(p: RestoreProgress): void {
    if (p.error !== undefined && this.errors.length < MAX_SYNC_ERROR_MESSAGES)
      this.errors.push(`${p.path}: ${p.error.message}`)
    const now = Date.now()
    if (now - this.lastSave < SAVE_EVERY_MS) return
    this.lastSave = now
    const { files_count, uploaded, skipped, errors } = p.counts
    this.saving = this.saving
      .then(() => this.restores.saveCurrent(this.restoreId, { files_count, uploaded, skipped, errors }))
      .then(
        () => undefined,
        (err: unknown) => this.log.warn({ err, restoreId: this.restoreId }, 'restore: saving progress failed')
      )
  }

  /** Resolves once no save is under way (so none lands after the slice's own last write). */
  async flushed(): Promise<void> {
    await this.saving
  }
}

const zero = (): RestoreTotals => ({ files_count: 0, uploaded: 0, skipped: 0, errors: 0 })
