/**
 * What GET /sync/vaults and its files routes read: the account's vaults beside
 * what is recorded of their backups, a vault's backed-up files, and a download
 * URL of one.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { NotFoundError } from '../core/errors.ts'
import type { SyncObjectsRepository } from '../repositories/sync-objects.ts'
import type { FileEntry, SyncVaultsRepository, VaultState } from '../repositories/sync-vaults.ts'
import { withRetries } from '../core/retry.ts'
import type { AccountSettings } from './account.ts'
import type { SignIns } from './account-session.ts'
import type { Destinations } from './destinations.ts'
import { ObsidianError } from './obsidian/errors.ts'
import type { VaultInfo } from './obsidian/index.ts'
import { OBSIDIAN_RETRY } from './obsidian-retry.ts'

/** GET /sync/vaults waits this long for the account's vault list (API Gateway gives a request 30 s)… */
const VAULT_LIST_WAIT_MS = 3000
/** …and when the service is slower, answers with the list it last got, if it is this recent. */
const VAULT_LIST_CACHE_MS = 15 * 60_000

/** The answer to a read of a file the backup does not hold (at that moment, when one is named). */
export const syncFileNotFound = (vaultId: string, path: string, asOf?: string): NotFoundError =>
  new NotFoundError(
    'SYNC_FILE_NOT_FOUND',
    `No backed-up file ${JSON.stringify(path)} in vault ${vaultId}${asOf === undefined ? '' : ` at ${asOf}`}`
  )

export interface VaultListingOptions {
  vaults: SyncVaultsRepository
  objects: SyncObjectsRepository
  account: AccountSettings
  destinations: Destinations
  /** Shared with the slices: no two sign-ins of this process send the same two-factor code. */
  signIns: SignIns
  apiUrl: string
  log: Logger
}

/** A destination as a read names it: the stack's sync bucket and `vaults` unless named. */
export interface Destination {
  destBucket?: string
  destPrefix?: string
}

export class VaultListing {
  /** The configured account's vaults as last listed, and a listing under way. */
  private vaultList: { at: number; vaults: VaultInfo[] } | undefined
  private listing: Promise<VaultInfo[]> | undefined

  constructor(private readonly options: VaultListingOptions) {}

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

  /** A vault's backed-up files at a destination, by path, from `prefix` on. */
  async files(
    vaultId: string,
    where: Destination & { prefix?: string; limit?: number; cursor?: string }
  ): Promise<{ files: FileEntry[]; cursor: string | null }> {
    const target = this.options.destinations.target(where.destBucket, where.destPrefix)
    return await this.options.vaults.files(vaultId, target, where.prefix ?? '', where.limit ?? 100, where.cursor)
  }

  /** A presigned URL of a backed-up file's object. */
  async download(vaultId: string, path: string, where: Destination): Promise<{ url: string; expiresAt: number }> {
    const target = this.options.destinations.target(where.destBucket, where.destPrefix)
    const entry = await this.options.vaults.file(vaultId, target, path)
    if (entry === undefined) throw syncFileNotFound(vaultId, path)
    return await this.options.objects.downloadUrl(target.bucket, entry.s3Key)
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
    const { signIns, log } = this.options
    const client = new ObsidianClient({ apiUrl: this.options.apiUrl, log })
    const { credentials } = await this.options.account.resolve()
    const token = await signIns.signIn(client, credentials)
    try {
      const vaults = await withRetries(() => client.vaults(token), OBSIDIAN_RETRY)
      this.vaultList = { at: Date.now(), vaults }
      return vaults
    } finally {
      await signIns.signOut(client, token, log)
    }
  }
}
