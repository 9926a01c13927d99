/**
 * One slice of one vault's sync: read the changes the service announces, apply
 * them to S3 and the index a few at a time, and save how far it got.
 *
 * - Incremental: every change after the saved version. Complete: the vault's
 *   current files, then every index entry (and object) the vault no longer has
 *   is removed. Either way a file whose hash the index already holds is not
 *   pulled (a complete run first checks, by a HEAD, that its object is still
 *   in the bucket with that hash and size), and a path announced twice is
 *   applied once, at its latest version.
 * - One connection (one `init`) per vault, as the official client keeps: pulls
 *   take turns on it, and a few files are in flight at once, so one file's
 *   upload to S3 overlaps the next one's pull. A connection that breaks is
 *   replaced.
 * - The saved version only moves past a change once it and every change
 *   before it are in S3 and the index: a slice killed anywhere is redone from
 *   there, and redoes at most the changes that were in flight.
 * - A slice stops taking work when `shouldPause` says so (its time is up), but
 *   only after it has moved the vault forward by at least one change (a file
 *   already backed up does not count), so every slice makes progress.
 */
import type { Logger } from 'pino'
import type { Counts, SyncRunsRepository, SyncType } from '../repositories/sync-runs.ts'
import { zeroCounts } from '../repositories/sync-runs.ts'
import type { SyncObjectsRepository } from '../repositories/sync-objects.ts'
import type { FileEntry, SyncVaultsRepository, Target } from '../repositories/sync-vaults.ts'
import {
  ObsidianError,
  type ObsidianClient,
  type Push,
  type VaultCipher,
  type VaultInfo,
  type VaultSession
} from './obsidian/index.ts'
import { quote } from './obsidian/api.ts'
import { contentTypeOf, objectKey, UnsafePathError } from '../repositories/sync-paths.ts'
import { OBSIDIAN_RETRY } from './obsidian-retry.ts'
import { withRetries } from '../core/retry.ts'

export interface VaultSliceInput {
  runId: string
  syncType: SyncType
  vault: VaultInfo
  token: string
  cipher: VaultCipher
  target: Target
  client: ObsidianClient
  shouldPause: () => boolean
  /** Files pulled at once. */
  concurrency: number
  leaseMs: number
  /** Error messages the run already keeps for this vault. */
  keptMessages: number
}

export interface VaultSliceResult {
  /** False: the slice ran out of time and the vault continues in the next. */
  finished: boolean
  /** Why the vault's sync stopped, when it did not finish. */
  error?: Error
  /** Files that were refused or failed; the sync went on past them. */
  fileErrors: number
  fileCount?: number
}

export interface VaultSyncDeps {
  runs: SyncRunsRepository
  vaults: SyncVaultsRepository
  objects: SyncObjectsRepository
  log: Logger
}

/** What the service announced, reduced to one entry per path: a change to apply, or one it sent unreadable. */
type Entry = { kind: 'push'; uid: number; push: Push } | { kind: 'unreadable'; uid: number; error: ObsidianError }

/** How often progress and the version are saved while a slice works. */
const CHECKPOINT_MS = 2000

export class LeaseLostError extends Error {
  override name = 'LeaseLostError'
  constructor(vaultId: string) {
    super(`Another run took over vault ${vaultId} (this run's lease had expired)`)
  }
}

export async function syncVaultSlice(deps: VaultSyncDeps, input: VaultSliceInput): Promise<VaultSliceResult> {
  return await new VaultSlice(deps, input).run()
}

class VaultSlice {
  private readonly counts: Counts = zeroCounts()
  private readonly messages: string[] = []
  private fileErrors = 0
  private complete = false
  private from = 0
  private readyVersion = 0
  private entries: Entry[] = []
  private done: boolean[] = []
  private firstUndone = 0
  private savedVersion: number | undefined
  private applied = 0
  private checkpointing: Promise<void> = Promise.resolve()
  private lastCheckpoint = Date.now()
  /** The vault's one connection, and its replacement being opened after it broke. */
  private session: VaultSession | undefined
  private opening: Promise<VaultSession> | undefined

  constructor(
    private readonly deps: VaultSyncDeps,
    private readonly input: VaultSliceInput
  ) {}

  private get vaultId(): string {
    return this.input.vault.id
  }

  async run(): Promise<VaultSliceResult> {
    const { vaults } = this.deps
    const { target } = this.input
    const state = await vaults.state(this.vaultId, target)
    // Before anything is written: a moment before it is one the backup cannot show. A state saved before this
    // was recorded has a version and keeps no first run (the bucket's retention alone bounds its past).
    if (state?.firstRunAt === undefined && state?.version === undefined)
      await vaults.recordFirstRun(this.vaultId, target, Date.now())
    this.savedVersion = state?.version
    // A vault never synced to this destination starts with everything it has.
    this.complete = this.input.syncType === 'complete' || state?.version === undefined
    this.from = this.complete ? 0 : (state?.version ?? 0)
    // A long file holds no checkpoint: the lease and the run's heartbeat are renewed on a timer meanwhile.
    const heartbeat = setInterval(() => void this.heartbeat(), Math.max(50, this.input.leaseMs / 3))
    try {
      this.session = await this.collect()
      const index = this.complete
        ? new Map((await vaults.allFiles(this.vaultId, target)).map(f => [f.path, f]))
        : undefined
      const paused = await this.applyAll(index)
      if (paused) return await this.pause()
      if (index !== undefined && (await this.sweep(index))) return await this.pause()
      await this.checkpoint(this.readyVersion)
      const fileCount = await vaults.countFiles(this.vaultId, target)
      return { finished: true, fileErrors: this.fileErrors, fileCount }
    } catch (err) {
      // Whatever landed stays landed: save the version up to it, then report why the vault stopped.
      await this.checkpoint(this.watermark()).catch(saveErr =>
        this.deps.log.warn({ err: saveErr, vaultId: this.vaultId }, 'sync checkpoint after a failure failed')
      )
      return { finished: true, error: err as Error, fileErrors: this.fileErrors }
    } finally {
      clearInterval(heartbeat)
      this.session?.close()
      this.session = undefined
    }
  }

  private leaseLost = false
  /** The service has announced every change and its version: until then there is nothing to save. */
  private collected = false

  private async heartbeat(): Promise<void> {
    const { vaults, runs, log } = this.deps
    const { runId, leaseMs } = this.input
    try {
      if (!(await vaults.renewLease(this.vaultId, runId, leaseMs))) this.leaseLost = true
      else await runs.touch(runId)
    } catch (err) {
      log.warn({ err, vaultId: this.vaultId, runId }, 'sync heartbeat failed')
    }
  }

  /** Opens the vault and reads every change it announces until `ready`; the session stays open for pulls. */
  private async collect(): Promise<VaultSession> {
    return await withRetries(async () => {
      const session = await this.input.client.openVault({
        token: this.input.token,
        vault: this.input.vault,
        cipher: this.input.cipher,
        version: this.from,
        initial: this.complete
      })
      try {
        const byPath = new Map<string, Entry>()
        const unreadable: Entry[] = []
        for await (const event of session.pushes()) {
          if (event.kind === 'push')
            byPath.set(event.push.path, { kind: 'push', uid: event.push.uid, push: event.push })
          else if (event.uid !== undefined) unreadable.push({ kind: 'unreadable', uid: event.uid, error: event.error })
          else this.fileError(`a change without a version: ${event.error.message}`)
        }
        this.readyVersion = session.version ?? this.from
        this.collected = true
        // A path announced again later is applied once, at its latest version: the version saved never passes a
        // change whose path is still to come, so a restart after any prefix sees that later change again.
        this.entries = [...byPath.values(), ...unreadable].sort((a, b) => a.uid - b.uid)
        this.done = this.entries.map(() => false)
        return session
      } catch (err) {
        session.close()
        throw err
      }
    }, OBSIDIAN_RETRY)
  }

  /**
   * Applies the entries in order, `concurrency` in flight: their pulls take turns on the one connection, their
   * uploads overlap the next pulls. True when it stopped because time was up.
   */
  private async applyAll(index: Map<string, FileEntry> | undefined): Promise<boolean> {
    let next = 0
    let paused = false
    let fatal: unknown
    const worker = async (): Promise<void> => {
      try {
        while (fatal === undefined) {
          if (this.leaseLost) throw new LeaseLostError(this.vaultId)
          if (this.applied > 0 && this.input.shouldPause()) {
            paused = true
            return
          }
          const i = next++
          if (i >= this.entries.length) return
          await this.applyWithRetries(this.entries[i]!, index)
          this.done[i] = true
          if (Date.now() - this.lastCheckpoint >= CHECKPOINT_MS) await this.checkpoint(this.watermark())
        }
      } catch (err) {
        fatal ??= err
      }
    }
    const workers = Math.max(1, Math.min(this.input.concurrency, this.entries.length))
    await Promise.all(Array.from({ length: workers }, worker))
    if (fatal !== undefined) throw fatal
    return paused
  }

  /** The vault's connection: the one open, or a new one in place of one that broke (shared by every file). */
  private async connection(): Promise<VaultSession> {
    if (this.session !== undefined) return this.session
    this.opening ??= this.input.client
      .openVault({
        token: this.input.token,
        vault: this.input.vault,
        cipher: this.input.cipher,
        version: this.readyVersion,
        initial: false
      })
      .then(session => (this.session = session))
      .finally(() => {
        this.opening = undefined
      })
    return await this.opening
  }

  /** A connection a pull failed on may be out of step: it is closed, and the next pull opens another. */
  private dropConnection(session: VaultSession): void {
    if (this.session === session) this.session = undefined
    session.close()
  }

  /** One entry, trying again on the network's faults. */
  private async applyWithRetries(entry: Entry, index: Map<string, FileEntry> | undefined): Promise<void> {
    let integrityRetried = false
    await withRetries(
      async () => {
        let used: VaultSession | undefined
        try {
          await this.apply(entry, index, async () => (used = await this.connection()))
        } catch (err) {
          // A file that is gone or does not check out leaves the connection in step; anything else may not.
          const inStep = err instanceof ObsidianError && (err.code === 'INTEGRITY' || err.code === 'FILE_GONE')
          if (used !== undefined && !inStep) this.dropConnection(used)
          if (!(err instanceof ObsidianError)) throw err
          if (err.code === 'INTEGRITY' && !integrityRetried) {
            integrityRetried = true
            throw Object.assign(err, { retryOnce: true })
          }
          if (err.code === 'FILE_GONE') {
            this.count('skipped')
            return
          }
          if (err.code === 'INTEGRITY' || err.code === 'TOO_LARGE' || err.code === 'PROTOCOL') {
            if (entry.kind === 'push') this.fileError(`${quote(entry.push.path)}: ${err.message}; not written`)
            return
          }
          throw err
        }
      },
      {
        ...OBSIDIAN_RETRY,
        retryable: err => (err as { retryOnce?: boolean }).retryOnce === true || OBSIDIAN_RETRY.retryable(err)
      }
    )
  }

  private async apply(
    entry: Entry,
    index: Map<string, FileEntry> | undefined,
    sessionFor: () => Promise<VaultSession>
  ): Promise<void> {
    if (entry.kind === 'unreadable') {
      this.fileError(`version ${entry.uid}: ${entry.error.message}`)
      return
    }
    const { push } = entry
    if (push.folder) return
    const { vaults, objects } = this.deps
    const { target, runId } = this.input
    let key: string
    try {
      key = objectKey(target.prefix, this.vaultId, push.path)
    } catch (err) {
      if (!(err instanceof UnsafePathError)) throw err
      // Nothing was ever written for such a path, so its deletion has nothing to undo.
      if (!push.deleted) this.fileError(`${quote(push.path)}: ${err.message}`)
      return
    }
    if (push.deleted) {
      await objects.remove(target.bucket, key)
      if (await vaults.deleteFile(this.vaultId, target, push.path)) this.count('deleted')
      return
    }
    const existing = index !== undefined ? index.get(push.path) : await vaults.file(this.vaultId, target, push.path)
    // A version announced without a hash is the one recorded when it is the same version (its hash was recorded once
    // pulled); otherwise the content's hash says whether the file changed.
    const same = push.hash === '' ? existing?.uid === push.uid : existing?.sha256 === push.hash
    if (existing !== undefined && same && existing.s3Key === key) {
      // Written by an earlier slice of this run: counted then.
      const thisRun = existing.runId === runId && existing.uid === push.uid
      // A complete run also repairs what was deleted or overwritten in the bucket behind the index's back.
      if (thisRun || !this.complete || (await objects.holds(target.bucket, key, existing.sha256, existing.size))) {
        if (!thisRun) this.count('skipped')
        return
      }
    }
    const session = await sessionFor()
    const { bytes: size, versionId } = await objects.upload(
      target.bucket,
      key,
      session.pull(push),
      { sha256: push.hash, mtime: push.mtime, syncedAt: Date.now(), contentType: contentTypeOf(push.path) },
      push.size
    )
    const written: FileEntry = {
      path: push.path,
      size,
      sha256: push.hash,
      mtime: push.mtime,
      s3Key: key,
      versionId,
      uid: push.uid,
      runId
    }
    await vaults.putFile(this.vaultId, target, written)
    index?.set(push.path, written)
    this.count('pulled')
    this.counts.bytes += size
  }

  /** Removes what the vault no longer has; true when time ran out first. */
  private async sweep(index: Map<string, FileEntry>): Promise<boolean> {
    const live = new Set(this.entries.flatMap(e => (e.kind === 'push' && !e.push.deleted ? [e.push.path] : [])))
    const { vaults, objects } = this.deps
    const { target } = this.input
    for (const entry of index.values()) {
      if (live.has(entry.path)) continue
      if (this.applied > 0 && this.input.shouldPause()) return true
      await objects.remove(target.bucket, entry.s3Key)
      if (await vaults.deleteFile(this.vaultId, target, entry.path)) this.count('deleted')
      else this.applied++
    }
    return false
  }

  private async pause(): Promise<VaultSliceResult> {
    await this.checkpoint(this.watermark())
    return { finished: false, fileErrors: this.fileErrors }
  }

  /**
   * The version every change up to which is applied, for an incremental run.
   * A complete run has none before its end: until then the index holds a mix of old and new.
   */
  private watermark(): number | undefined {
    if (this.complete || !this.collected) return undefined
    while (this.firstUndone < this.entries.length && this.done[this.firstUndone]) this.firstUndone++
    if (this.firstUndone === this.entries.length) return this.readyVersion
    return this.firstUndone === 0 ? this.from : this.entries[this.firstUndone - 1]!.uid
  }

  /** Renews the lease, saves the version (when given and ahead) and adds this slice's counts to the run. */
  private async checkpoint(version: number | undefined): Promise<void> {
    const step = async (): Promise<void> => {
      this.lastCheckpoint = Date.now()
      const { vaults, runs } = this.deps
      const { runId, target, leaseMs } = this.input
      if (!(await vaults.renewLease(this.vaultId, runId, leaseMs))) throw new LeaseLostError(this.vaultId)
      await runs.touch(runId)
      if (version !== undefined && (this.savedVersion === undefined || version > this.savedVersion)) {
        await vaults.saveVersion(this.vaultId, target, version)
        this.savedVersion = version
      }
      const delta = { ...this.counts }
      const messages = this.messages.splice(0)
      Object.assign(this.counts, zeroCounts())
      await runs.addProgress(runId, this.vaultId, delta, messages, this.input.vault.name, this.input.keptMessages)
      this.input.keptMessages += messages.length
    }
    this.checkpointing = this.checkpointing.then(step, step)
    await this.checkpointing
  }

  private count(what: 'pulled' | 'skipped' | 'deleted'): void {
    this.counts[what]++
    this.counts.seen++
    // Work that moves the vault forward; a skip costs nothing, and a resumed slice skips what its predecessors did.
    if (what !== 'skipped') this.applied++
  }

  private fileError(message: string): void {
    this.counts.errors++
    this.counts.seen++
    this.applied++
    this.fileErrors++
    this.messages.push(message)
    this.deps.log.warn({ vaultId: this.vaultId, runId: this.input.runId }, `sync: ${message}`)
  }
}
