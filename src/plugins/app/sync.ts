import fp from 'fastify-plugin'
import type { Logger } from 'pino'
import type { Config } from '../../config/config.ts'
import { defaultMetricsSink } from '../../aws/emf.ts'
import { AccountSettings } from '../../sync/account.ts'
import { SignIns } from '../../sync/account-session.ts'
import { Destinations } from '../../sync/destinations.ts'
import { inProcessLauncher, lambdaLauncher, type SyncLauncher } from '../../sync/launcher.ts'
import { SyncMetrics, type MetricsSink } from '../../sync/metrics.ts'
import { RunEnd } from '../../sync/run-end.ts'
import { RunTracker, SliceRunners } from '../../sync/run-kinds.ts'
import { SyncRunService, syncRunBook } from '../../sync/run-service.ts'
import { SyncSliceRunner } from '../../sync/slice-runner.ts'
import { VaultHistory } from '../../sync/vault-history.ts'
import { VaultListing } from '../../sync/vault-listing.ts'
import { exportService } from './sync-exports.ts'
import type { ExportService } from '../../sync/export/export-service.ts'
import type { RestoreService } from '../../sync/restore-service.ts'
import { restoreParts } from './sync-restores.ts'

/** /sync's parts, as routes, the Lambda handler and the CLI call them. */
export interface SyncServices {
  /** Start, read, list and wait for runs. */
  runs: SyncRunService
  /** The account's vaults and their backed-up files. */
  vaults: VaultListing
  /** A backup's past: files and downloads as of a moment, a file's versions. */
  history: VaultHistory
  /** Start, read and wait for restores into new Obsidian vaults. */
  restores: RestoreService
  /** Every kind's slice runner: where a continuation goes. */
  slices: SliceRunners
  /** Start, read and wait for exports (zips of a vault at a moment). */
  exports: ExportService
}

declare module 'fastify' {
  interface FastifyInstance {
    sync: SyncServices
  }
}

export interface SyncPluginOptions {
  config: Config
  /**
   * How slices after the request start, given where a continuation is run; by default a self-invocation on
   * Lambda, the background elsewhere.
   */
  launcher?: (slices: SliceRunners, log: Logger) => SyncLauncher
  /** Where embedded-metric-format lines go; by default stdout on Lambda, the debug log elsewhere. */
  metricsSink?: MetricsSink
}

/** The sync run service, vault listing and slice runner, on the app's repositories; slices stop when the app closes. */
export default fp<SyncPluginOptions>(
  async (app, { config, launcher, metricsSink }) => {
    const log = app.log.child({ component: 'sync' }) as unknown as Logger
    const sink: MetricsSink = metricsSink ?? defaultMetricsSink(config.runtime, log, 'sync metrics')
    const runs = app.syncRunsRepository
    const vaults = app.syncVaultsRepository
    const account = new AccountSettings(config.sync.account, app.aws)
    const destinations = new Destinations(config.sync.allowedBuckets, config.buckets.sync)
    const metrics = new SyncMetrics(sink, config.functionName)
    const signIns = new SignIns()
    const ends = new RunEnd({ runs, vaults, metrics, lambdaMemory: config.sync.lambdaMemory, log })

    // The launcher runs continuations through `slices`, whose runners it is then handed to.
    const slices = new SliceRunners()
    const launch: SyncLauncher =
      launcher?.(slices, log) ??
      (config.runtime === 'lambda' && config.functionName !== undefined
        ? lambdaLauncher({ functionName: config.functionName, client: app.aws.lambda })
        : inProcessLauncher((next, deadline) => slices.run(next, deadline), config.sync.timeBudgetMs, log))
    const tracker = new RunTracker({ book: syncRunBook(runs, ends), launcher: launch, leaseMs: config.sync.leaseMs })
    const service = new SyncRunService({
      runs,
      vaults,
      account,
      destinations,
      ends,
      tracker,
      leaseMs: config.sync.leaseMs,
      log
    })
    slices.register(
      'sync',
      new SyncSliceRunner({
        runs,
        vaults,
        objects: app.syncObjectsRepository,
        account,
        config: config.sync,
        apiUrl: config.obsidian.apiUrl,
        signIns,
        ends,
        tracker,
        metrics,
        log
      })
    )
    const listing = new VaultListing({
      vaults,
      objects: app.syncObjectsRepository,
      account,
      destinations,
      signIns,
      apiUrl: config.obsidian.apiUrl,
      log
    })
    const history = new VaultHistory({
      vaults,
      history: app.syncHistoryRepository,
      objects: app.syncObjectsRepository,
      destinations
    })
    const exports = exportService(app, { config, destinations, launcher: launch, slices, log })
    const restores = restoreParts(app, { config, account, destinations, signIns, slices, launcher: launch, log })
    app.decorate('sync', { runs: service, vaults: listing, history, slices, exports, restores })
    app.addHook('onClose', async () => {
      slices.stop()
      await launch.close()
    })
  },
  { name: 'sync', dependencies: ['aws', 'repositories'] }
)
