/**
 * The upload half of a restore: files (as a past moment of a backup holds
 * them) go into an Obsidian vault, one at a time over one session, as the
 * official client uploads them.
 *
 * - Resumable without a record of its own: a session opens with the vault's
 *   current files, and every upload's echo adds to them, so a file the
 *   target already holds with the same hash is skipped. A restore that was
 *   interrupted anywhere (between files, mid-upload, or after the service
 *   stored a file but before its echo came) and starts again on the same
 *   vault uploads no file twice.
 * - Each file's parent folders are created first, once; a folder the target
 *   holds is not created again.
 * - A connection that breaks is reopened (the service's holdings read again)
 *   and the file tried again, a few times; a file the service refuses, or
 *   whose source fails or does not match its size and SHA-256, is an error
 *   and the restore goes on.
 * - A dry run opens nothing (or, given a session, only reads the target) and
 *   creates nothing: `uploaded` then counts the files it would upload.
 * - Aborting the signal closes the session at once, mid-upload too, as a
 *   killed process would; the restore then throws the signal's reason.
 *   `shouldPause` stops it between files instead (a slice whose time is up):
 *   it returns, not finished, and the next slice starts again from the first
 *   entry, skipping what the earlier ones uploaded.
 *
 * No password or key passes through here: the session holds the keys.
 */
import type { Readable } from 'node:stream'
import { backoff, withRetries } from '../core/retry.ts'
import { ObsidianError, type PushEvent, type UploadItem, type VaultSession } from './obsidian/index.ts'
import { silentLog, type ClientLog } from './obsidian/log.ts'
import { OBSIDIAN_RETRY } from './obsidian-retry.ts'

export interface RestoreFile {
  folder?: false
  path: string
  /** Milliseconds since the epoch. */
  mtime: number
  /** Milliseconds since the epoch (default: `mtime`). */
  ctime?: number
  /** Bytes of plaintext. */
  size: number
  /** hex(sha256(plaintext)). */
  sha256: string
  /** The plaintext; opened only when the file is uploaded. */
  open: () => Promise<Readable | Buffer>
}

export interface RestoreFolder {
  folder: true
  path: string
}

export type RestoreEntry = RestoreFile | RestoreFolder

export interface RestoreCounts {
  /** Files (not folders) seen. */
  files_count: number
  /** Files uploaded; in a dry run, the files it would upload. */
  uploaded: number
  /** Files the target already held with the same hash. */
  skipped: number
  /** Files and folders that failed. */
  errors: number
  /** Folders created; in a dry run, the folders it would create. */
  folders: number
}

export interface RestoreResult extends RestoreCounts {
  /** False when `shouldPause` stopped it before the last entry. */
  finished: boolean
}

export type RestoreAction = 'uploaded' | 'would-upload' | 'skipped' | 'failed' | 'folder'

export interface RestoreProgress {
  path: string
  action: RestoreAction
  /** The counts so far, this entry included. */
  counts: RestoreCounts
  /** Why it failed (`failed` only): an ObsidianError's code, or SOURCE when its content could not be read. */
  error?: { code: string; message: string }
}

export interface RestoreUploadOptions {
  entries: AsyncIterable<RestoreEntry>
  /** Opens a session on the target vault, with its current files (`initial`); optional in a dry run. */
  open?: () => Promise<VaultSession>
  dryRun?: boolean
  /** Called after each entry; keep it quick (a run saves progress now and then, not at every call). */
  onProgress?: (progress: RestoreProgress) => void
  /** Asked before each entry: true stops the restore there, unfinished. */
  shouldPause?: () => boolean
  signal?: AbortSignal
  log?: ClientLog
}

/** Restores `entries` into the target; the counts when every entry was seen, or it paused. */
export async function restoreUpload(options: RestoreUploadOptions): Promise<RestoreResult> {
  const restore = new Restore(options)
  try {
    return await restore.run()
  } finally {
    restore.close()
  }
}

/** What the target holds at a path: from its file list when the session opened, and the echoes since. */
type Held = { hash: string; folder: boolean }

class Restore {
  private readonly counts: RestoreCounts = { files_count: 0, uploaded: 0, skipped: 0, errors: 0, folders: 0 }
  private readonly held = new Map<string, Held>()
  /** Folders created or found this run (a dry run's among them), so each is looked at once. */
  private readonly folders = new Set<string>()
  private session: VaultSession | undefined
  private readonly log: ClientLog
  private readonly onAbort = (): void => this.session?.close()

  constructor(private readonly options: RestoreUploadOptions) {
    this.log = options.log ?? silentLog
    options.signal?.addEventListener('abort', this.onAbort)
  }

  async run(): Promise<RestoreResult> {
    const { entries, dryRun, open } = this.options
    if (open === undefined && dryRun !== true) throw new Error('A restore that is not a dry run needs a target')
    if (open !== undefined) await this.connect()
    for await (const entry of entries) {
      this.options.signal?.throwIfAborted()
      if (this.options.shouldPause?.() === true) return { ...this.counts, finished: false }
      for (const folder of parentsOf(entry.path)) await this.folder(folder)
      if (entry.folder === true) await this.folder(entry.path)
      else await this.file(entry)
    }
    return { ...this.counts, finished: true }
  }

  close(): void {
    this.options.signal?.removeEventListener('abort', this.onAbort)
    this.session?.close()
  }

  private async folder(path: string): Promise<void> {
    if (this.folders.has(path)) return
    this.folders.add(path)
    if (this.held.get(path)?.folder === true) return
    if (this.options.dryRun === true) {
      this.counts.folders++
      return this.report(path, 'folder')
    }
    if (await this.upload({ folder: true, path })) {
      this.counts.folders++
      this.report(path, 'folder')
    }
  }

  private async file(file: RestoreFile): Promise<void> {
    this.counts.files_count++
    if (this.holds(file)) {
      this.counts.skipped++
      return this.report(file.path, 'skipped')
    }
    if (this.options.dryRun === true) {
      this.counts.uploaded++
      return this.report(file.path, 'would-upload')
    }
    const item: UploadItem = {
      path: file.path,
      ctime: file.ctime ?? file.mtime,
      mtime: file.mtime,
      size: file.size,
      sha256: file.sha256,
      open: file.open
    }
    if (await this.upload(item)) {
      this.counts.uploaded++
      this.report(file.path, 'uploaded')
    }
  }

  /**
   * Uploads one item, reconnecting and trying again while the connection is
   * what failed. After a reconnection the item may turn out stored already
   * (the service kept it, its echo was lost): that is its upload. False when
   * it failed for good (counted and reported).
   */
  private async upload(item: UploadItem): Promise<boolean> {
    for (let failures = 0; ;) {
      // A session that ended (a file's failure may end it) is replaced; failing that fails the restore.
      const session = this.session !== undefined && !this.session.closed ? this.session : await this.connect()
      try {
        await session.upload(item)
        return true
      } catch (err) {
        this.options.signal?.throwIfAborted()
        failures++
        const again = err instanceof ObsidianError && err.retryable && failures < OBSIDIAN_RETRY.attempts
        if (!again) return this.failed(item.path, err)
        await backoff(failures, OBSIDIAN_RETRY)
        if (session.closed) await this.connect()
        if (item.folder === true ? this.held.get(item.path)?.folder === true : this.holds(item)) return true
      }
    }
  }

  /** Opens a session on the target and reads what it holds; replaces a session that ended. */
  private async connect(): Promise<VaultSession> {
    this.session?.close()
    this.session = undefined
    const open = this.options.open!
    const session = await withRetries(async () => {
      const opened = await open()
      try {
        this.held.clear()
        // Registered first: whatever comes after `ready` goes to it, whatever came before to the list read here.
        opened.onChange(event => this.note(event))
        for await (const event of opened.pushes()) this.note(event)
        return opened
      } catch (err) {
        opened.close()
        throw err
      }
    }, OBSIDIAN_RETRY)
    this.session = session
    // Aborted while it opened: the abort's close found no session to close.
    if (this.options.signal?.aborted === true) session.close()
    this.options.signal?.throwIfAborted()
    return session
  }

  private note(event: PushEvent): void {
    if (event.kind !== 'push') {
      this.log.warn({ uid: event.uid, code: event.error.code }, 'restore: a change in the target is unreadable')
      return
    }
    const { path, hash, folder, deleted } = event.push
    if (deleted) this.held.delete(path)
    else this.held.set(path, { hash, folder })
  }

  private holds(file: { path: string; sha256: string }): boolean {
    const held = this.held.get(file.path)
    return held !== undefined && !held.folder && held.hash === file.sha256
  }

  private failed(path: string, err: unknown): false {
    this.counts.errors++
    const code = err instanceof ObsidianError ? err.code : 'SOURCE'
    const message = err instanceof Error ? err.message : String(err)
    this.report(path, 'failed', { code, message })
    return false
  }

  private report(path: string, action: RestoreAction, error?: RestoreProgress['error']): void {
    this.options.onProgress?.({ path, action, counts: { ...this.counts }, ...(error === undefined ? {} : { error }) })
  }
}

/** The folders a path is in, outermost first: `a/b/c.md` is in `a` and `a/b`. */
export function parentsOf(path: string): string[] {
  const parts = path.split('/').slice(0, -1)
  return parts.map((_, i) => parts.slice(0, i + 1).join('/')).filter(p => p !== '')
}
