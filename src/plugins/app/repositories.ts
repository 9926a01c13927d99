import fp from 'fastify-plugin'
import type { Config } from '../../config/config.ts'
import { defaultMetricsSink } from '../../aws/emf.ts'
import { AssetsRepository } from '../../repositories/assets/index.ts'
import { DataRepository, type DataRepositoryOptions } from '../../repositories/data.ts'
import { HealthRepository } from '../../repositories/health.ts'
import { ProjectsRepository, type ProjectsRepositoryOptions } from '../../repositories/projects/index.ts'
import { SyncHistoryRepository } from '../../repositories/sync-history.ts'
import { SyncObjectsRepository } from '../../repositories/sync-objects.ts'
import { SyncRestoresRepository } from '../../repositories/sync-restores.ts'
import { SyncRunsRepository } from '../../repositories/sync-runs.ts'
import { SyncVaultsRepository } from '../../repositories/sync-vaults.ts'
import { UsersRepository } from '../../repositories/users/index.ts'

declare module 'fastify' {
  interface FastifyInstance {
    assetsRepository: AssetsRepository
    dataRepository: DataRepository
    healthRepository: HealthRepository
    projectsRepository: ProjectsRepository
    syncHistoryRepository: SyncHistoryRepository
    syncObjectsRepository: SyncObjectsRepository
    syncRestoresRepository: SyncRestoresRepository
    syncRunsRepository: SyncRunsRepository
    syncVaultsRepository: SyncVaultsRepository
    usersRepository: UsersRepository
  }
}

/** Settings tests change to reach code paths with small inputs; each repository's own option names. */
export interface RepositoryOverrides {
  data?: Pick<DataRepositoryOptions, 'inlinePayloadBytes'>
  projects?: Pick<ProjectsRepositoryOptions, 'inlineBatchBytes' | 'leaseMs' | 'metricsSink'>
}

export interface RepositoriesOptions {
  config: Config
  overrides?: RepositoryOverrides
}

export default fp<RepositoriesOptions>(
  async (app, { config, overrides = {} }) => {
    const { dynamodb, s3 } = app.aws
    const projectsFailure = (err: unknown, what: string) => app.log.error({ err }, `projects: ${what} failed`)
    app.decorate(
      'dataRepository',
      new DataRepository({
        dynamodb,
        s3,
        table: config.tables.data,
        bucket: config.buckets.payloads,
        ...overrides.data
      })
    )
    app.decorate(
      'healthRepository',
      new HealthRepository({
        dynamodb,
        s3,
        tables: config.tables,
        buckets: config.buckets
      })
    )
    app.decorate(
      'projectsRepository',
      new ProjectsRepository({
        dynamodb,
        table: config.tables.projects,
        // Lambda freezes the process after each response; there the table's stream drives the projection.
        projectInBackground: config.runtime === 'server',
        onError: projectsFailure,
        metricsSink: defaultMetricsSink(config.runtime, app.log, 'projects metrics'),
        ...overrides.projects
      })
    )
    app.addHook('onClose', () => app.projectsRepository.idle())
    app.decorate(
      'usersRepository',
      new UsersRepository({
        dynamodb,
        table: config.tables.users
      })
    )
    app.decorate(
      'assetsRepository',
      new AssetsRepository({
        dynamodb,
        s3,
        table: config.tables.assets,
        bucket: config.buckets.assets,
        limits: config.assets
      })
    )
    app.decorate(
      'syncRunsRepository',
      new SyncRunsRepository({
        dynamodb,
        table: config.tables.sync
      })
    )
    app.decorate('syncRestoresRepository', new SyncRestoresRepository({ dynamodb, table: config.tables.sync }))
    app.decorate(
      'syncVaultsRepository',
      new SyncVaultsRepository({
        dynamodb,
        table: config.tables.sync
      })
    )
    app.decorate(
      'syncObjectsRepository',
      new SyncObjectsRepository({
        s3,
        bucket: config.buckets.sync,
        presignTtlSeconds: config.assets.presignTtlSeconds
      })
    )
    app.decorate(
      'syncHistoryRepository',
      new SyncHistoryRepository({
        s3,
        bucket: config.buckets.sync,
        vaults: app.syncVaultsRepository
      })
    )
  },
  { name: 'repositories', dependencies: ['aws'] }
)
