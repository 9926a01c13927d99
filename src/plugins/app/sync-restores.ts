import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from '../../config/config.ts'
import type { AccountSettings } from '../../sync/account.ts'
import type { SignIns } from '../../sync/account-session.ts'
import type { Destinations } from '../../sync/destinations.ts'
import type { SyncLauncher } from '../../sync/launcher.ts'
import { RestoreSliceRunner } from '../../sync/restore-slice-runner.ts'
import { RestoreService, restoreBook } from '../../sync/restore-service.ts'
import { RunTracker, type SliceRunners } from '../../sync/run-kinds.ts'

export interface RestorePartsOptions {
  config: Config
  account: AccountSettings
  destinations: Destinations
  signIns: SignIns
  slices: SliceRunners
  launcher: SyncLauncher
  log: Logger
}

/** Restores' parts on the sync plugin's (account, destinations, sign-ins, launcher): its slice runner registered. */
export function restoreParts(app: FastifyInstance, options: RestorePartsOptions): RestoreService {
  const { config, account, destinations, signIns, slices, launcher, log } = options
  const restores = app.syncRestoresRepository
  const tracker = new RunTracker({ book: restoreBook(restores), launcher, leaseMs: config.sync.leaseMs })
  slices.register(
    'restore',
    new RestoreSliceRunner({
      restores,
      history: app.syncHistoryRepository,
      account,
      config: config.sync,
      apiUrl: config.obsidian.apiUrl,
      signIns,
      tracker,
      log
    })
  )
  return new RestoreService({ restores, vaults: app.syncVaultsRepository, account, destinations, tracker, log })
}
