/**
 * Restores as callers see them (POST /sync/restores, GET /sync/restores/{id}):
 * start one, read one, wait for one to end. Everything a request can get wrong
 * is refused before anything is recorded or created. The slices that do the
 * work are restore-slice-runner.ts's; RunTracker launches the first one,
 * settles restores whose slices died and waits.
 */
import type { Logger } from 'pino'
import { InvalidInputError, NotFoundError } from '../core/errors.ts'
import type { RestoreEncryption, Restore, SyncRestoresRepository } from '../repositories/sync-restores.ts'
import type { SyncVaultsRepository } from '../repositories/sync-vaults.ts'
import type { AccountSettings, RunCredentials } from './account.ts'
import { checkAsOf } from './as-of.ts'
import type { Destinations } from './destinations.ts'
import type { RunBook, RunTracker } from './run-kinds.ts'
import { runId as newRunId } from './run-id.ts'

/** The answer to a read of a restore that does not exist. */
export const syncRestoreNotFound = (restoreId: string): NotFoundError =>
  new NotFoundError('SYNC_RESTORE_NOT_FOUND', `Restore ${restoreId} not found`)

/** Restores as RunTracker reads and ends them. */
export function restoreBook(restores: SyncRestoresRepository): RunBook<Restore> {
  const end = async (restore: Restore, errors: string[]): Promise<void> => {
    await restores.finish(restore.runId, 'failed', totalsOf(restore), errors)
  }
  return {
    kind: 'restore',
    read: restoreId => restores.get(restoreId),
    end,
    endIdle: (restore, idleMs) =>
      end(restore, [
        `Interrupted: no slice has worked on the restore for ${Math.round(idleMs / 1000)} s; start it again (a new vault)`
      ]),
    notFound: syncRestoreNotFound
  }
}

/** A restore's counts as GET answers them: the totals once it has ended, else the slices' so far. */
export function totalsOf(restore: Restore): { files_count: number; uploaded: number; skipped: number; errors: number } {
  if (restore.totals !== undefined) return restore.totals
  const current = restore.current
  return {
    files_count: current?.files_count ?? 0,
    uploaded: restore.uploadedBefore + (current?.uploaded ?? 0),
    skipped: Math.max(0, (current?.skipped ?? 0) - restore.uploadedBefore),
    errors: current?.errors ?? 0
  }
}

export interface RestoreRequest {
  vaultId: string
  /** Epoch ms; absent: now. */
  asOf?: number
  targetName: string
  encryption: RestoreEncryption
  targetPassword?: string
  dryRun?: boolean
  destBucket?: string
  destPrefix?: string
  credentials?: RunCredentials
}

export interface RestoreServiceOptions {
  restores: SyncRestoresRepository
  vaults: SyncVaultsRepository
  account: AccountSettings
  destinations: Destinations
  tracker: RunTracker<Restore>
  log: Logger
}

export class RestoreService {
  constructor(private readonly options: RestoreServiceOptions) {}

  /** Records a restore and launches its first slice; a request that cannot succeed is a 400 with nothing done. */
  async start(request: RestoreRequest): Promise<Restore> {
    const { restores, vaults, account, destinations, tracker, log } = this.options
    if (request.encryption === 'end-to-end' && request.targetPassword === undefined && request.dryRun !== true)
      throw new InvalidInputError(
        'SYNC_RESTORE_PASSWORD_MISSING',
        'An end-to-end vault needs target_password, its encryption password (never stored)'
      )
    const target = destinations.target(request.destBucket, request.destPrefix)
    const asOf = request.asOf ?? Date.now()
    checkAsOf(asOf, request.vaultId, await vaults.state(request.vaultId, target))
    await account.resolve(request.credentials)
    const restore = await restores.create({
      runId: newRunId(),
      vaultId: request.vaultId,
      asOf,
      targetName: request.targetName,
      encryption: request.encryption,
      dryRun: request.dryRun === true,
      destBucket: target.bucket,
      destPrefix: target.prefix,
      createdAt: Date.now()
    })
    log.info({ restoreId: restore.runId, vaultId: request.vaultId, dryRun: restore.dryRun }, 'restore recorded')
    await tracker.launchFirst(restore, {
      credentials: request.credentials,
      // Only an end-to-end vault is keyed by it: a standard one's password is the service's.
      ...(request.targetPassword === undefined || request.encryption !== 'end-to-end'
        ? {}
        : { targetPassword: request.targetPassword })
    })
    return restore
  }

  /** The restore as it is, settled first; undefined when there is none. */
  async get(restoreId: string): Promise<Restore | undefined> {
    return await this.options.tracker.get(restoreId)
  }

  /** The restore once it has ended, or as it is after `ms`. */
  async waitFor(restoreId: string, ms: number): Promise<Restore> {
    return await this.options.tracker.waitFor(restoreId, ms)
  }
}
