/** Exports' parts on the app's: their repository, tracker and service, with their slice runner registered (sync.ts calls it). */
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from '../../config/config.ts'
import { SyncExportsRepository } from '../../repositories/sync-exports.ts'
import type { Destinations } from '../../sync/destinations.ts'
import type { SyncLauncher } from '../../sync/launcher.ts'
import { RunTracker, type SliceRunners } from '../../sync/run-kinds.ts'
import { ExportService, exportRunBook } from '../../sync/export/export-service.ts'
import { ExportSliceRunner } from '../../sync/export/export-slice.ts'

export interface ExportWiring {
  config: Config
  destinations: Destinations
  launcher: SyncLauncher
  slices: SliceRunners
  log: Logger
}

export function exportService(app: FastifyInstance, wiring: ExportWiring): ExportService {
  const { config, destinations, launcher, slices, log } = wiring
  const exports = new SyncExportsRepository({ dynamodb: app.aws.dynamodb, table: config.tables.sync })
  const leaseMs = config.sync.leaseMs
  const tracker = new RunTracker({ book: exportRunBook(exports), launcher, leaseMs })
  slices.register(
    'export',
    new ExportSliceRunner({
      exports,
      history: app.syncHistoryRepository,
      s3: app.aws.s3,
      heartbeatMs: Math.max(1000, Math.floor(leaseMs / 4)),
      log
    })
  )
  return new ExportService({
    exports,
    vaults: app.syncVaultsRepository,
    objects: app.syncObjectsRepository,
    destinations,
    tracker,
    bucket: config.buckets.sync,
    log
  })
}
