/**
 * The past of a backup, from the versioned sync bucket: the files as they
 * were at a moment, one file's bytes then, and a file's versions. A moment the
 * backup cannot show (before its first run, or older than the bucket keeps
 * versions) is 400 AS_OF_OUT_OF_RANGE; exports and restores check theirs here too.
 */
import type { SyncHistoryRepository } from '../repositories/sync-history.ts'
import type { SyncObjectsRepository } from '../repositories/sync-objects.ts'
import { objectKey, UnsafePathError, vaultKeyPrefix } from '../repositories/sync-paths.ts'
import type { SyncVaultsRepository, Target } from '../repositories/sync-vaults.ts'
import { checkAsOf, parseAsOf } from './as-of.ts'
import type { Destinations } from './destinations.ts'
import { syncFileNotFound, type Destination } from './vault-listing.ts'

export interface VaultHistoryOptions {
  vaults: SyncVaultsRepository
  history: SyncHistoryRepository
  objects: SyncObjectsRepository
  destinations: Destinations
}

export class VaultHistory {
  constructor(private readonly options: VaultHistoryOptions) {}

  /** The moment `asOf` names (RFC 3339 or epoch ms), once the backup at `target` is known to show it. */
  async momentOf(vaultId: string, target: Target, asOf: string): Promise<number> {
    const moment = parseAsOf(asOf)
    checkAsOf(moment, vaultId, await this.options.vaults.state(vaultId, target))
    return moment
  }

  /** GET /sync/vaults/{vault_id}/files?as_of=: a page of the files as the backup held them at that moment. */
  async files(
    vaultId: string,
    where: Destination & { asOf: string; prefix?: string; limit?: number; cursor?: string }
  ) {
    const target = this.target(where)
    const moment = await this.momentOf(vaultId, target, where.asOf)
    return await this.options.history.filesPage(target.bucket, vaultKeyPrefix(target.prefix, vaultId), moment, {
      pathPrefix: where.prefix ?? '',
      limit: where.limit ?? 100,
      cursor: where.cursor
    })
  }

  /** GET /sync/vaults/{vault_id}/files/download?as_of=: a URL to the file's bytes as they were at that moment. */
  async download(vaultId: string, path: string, where: Destination & { asOf: string }) {
    const target = this.target(where)
    const moment = await this.momentOf(vaultId, target, where.asOf)
    const found = await this.options.history.fileAsOf(target.bucket, keyOf(vaultId, target, path), moment)
    if (found === undefined) throw syncFileNotFound(vaultId, path, where.asOf)
    return await this.options.objects.downloadUrl(target.bucket, found.s3_key, found.version_id)
  }

  /** GET /sync/vaults/{vault_id}/files/history: a page of the file's versions, newest first; 404 when none is kept. */
  async versions(vaultId: string, path: string, where: Destination & { limit?: number; cursor?: string }) {
    const target = this.target(where)
    const page = await this.options.history.historyPage(
      target.bucket,
      keyOf(vaultId, target, path),
      where.limit ?? 50,
      where.cursor
    )
    if (page.versions.length === 0 && where.cursor === undefined) throw syncFileNotFound(vaultId, path)
    return page
  }

  private target(where: Destination): Target {
    return this.options.destinations.target(where.destBucket, where.destPrefix)
  }
}

/** The key of `path` in the vault at `target`; a path no sync could have written is a file never backed up. */
function keyOf(vaultId: string, target: Target, path: string): string {
  try {
    return objectKey(target.prefix, vaultId, path)
  } catch (err) {
    if (err instanceof UnsafePathError) throw syncFileNotFound(vaultId, path)
    throw err
  }
}
