import fp from 'fastify-plugin'
import type { Logger } from 'pino'
import type { Config } from '../../config.ts'
import { defaultMetricsSink } from '../../emf.ts'
import { AccountSettings } from '../../sync/account.ts'
import { SyncEngine } from '../../sync/engine.ts'
import { inProcessLauncher, lambdaLauncher, type SyncLauncher } from '../../sync/launcher.ts'
import { SyncMetrics, type MetricsSink } from '../../sync/metrics.ts'

declare module 'fastify' {
  interface FastifyInstance {
    syncEngine: SyncEngine
  }
}

export interface SyncPluginOptions {
  config: Config
  /** How slices after the request start; by default a self-invocation on Lambda, the background elsewhere. */
  launcher?: (engine: SyncEngine) => SyncLauncher
  /** Where embedded-metric-format lines go; by default stdout on Lambda, the debug log elsewhere. */
  metricsSink?: MetricsSink
}

/** The sync engine, on the app's repositories; its slices stop when the app closes. */
export default fp<SyncPluginOptions>(
  async (app, { config, launcher, metricsSink }) => {
    const log = app.log.child({ component: 'sync' }) as unknown as Logger
    const sink: MetricsSink = metricsSink ?? defaultMetricsSink(config.runtime, log, 'sync metrics')
    const engine = new SyncEngine({
      runs: app.syncRunsRepository,
      vaults: app.syncVaultsRepository,
      objects: app.syncObjectsRepository,
      account: new AccountSettings(config.sync.account, app.aws),
      config: config.sync,
      apiUrl: config.obsidian.apiUrl,
      bucket: config.buckets.sync,
      metrics: new SyncMetrics(sink, config.functionName),
      log
    })
    engine.launcher =
      launcher?.(engine) ??
      (config.runtime === 'lambda' && config.functionName !== undefined
        ? lambdaLauncher({ functionName: config.functionName, client: app.aws.lambda })
        : inProcessLauncher((next, deadline) => engine.runSlice(next, deadline), config.sync.timeBudgetMs, log))
    app.decorate('syncEngine', engine)
    app.addHook('onClose', async () => await engine.stop())
  },
  { name: 'sync', dependencies: ['aws', 'repositories'] }
)
