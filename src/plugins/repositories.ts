import fp from 'fastify-plugin'
import type { Config } from '../config.ts'
import { AssetsRepository } from '../repositories/assets.ts'
import { DataRepository } from '../repositories/data.ts'
import { HealthRepository } from '../repositories/health.ts'
import { ProjectsRepository } from '../repositories/projects.ts'
import { UsersRepository } from '../repositories/users.ts'

declare module 'fastify' {
  interface FastifyInstance {
    assetsRepository: AssetsRepository
    dataRepository: DataRepository
    healthRepository: HealthRepository
    projectsRepository: ProjectsRepository
    usersRepository: UsersRepository
  }
}

export interface RepositoriesOptions {
  config: Config
  /** Moves /data payloads above this many bytes to S3 (tests lower it). */
  dataInlinePayloadBytes?: number
  /** Stages /projects batches above this many bytes (tests lower it). */
  projectsInlineBatchBytes?: number
  /** How long a /projects projector holds its lease (tests shorten it). */
  projectsLeaseMs?: number
}

export default fp<RepositoriesOptions>(async (app, { config, dataInlinePayloadBytes, projectsInlineBatchBytes, projectsLeaseMs }) => {
  const { dynamodb, s3 } = app.aws
  app.decorate('dataRepository', new DataRepository({
    dynamodb,
    s3,
    table: config.tables.data,
    bucket: config.buckets.payloads,
    inlinePayloadBytes: dataInlinePayloadBytes
  }))
  app.decorate('healthRepository', new HealthRepository({
    dynamodb,
    s3,
    table: config.tables.data,
    bucket: config.buckets.payloads
  }))
  app.decorate('projectsRepository', new ProjectsRepository({
    dynamodb,
    table: config.tables.projects,
    inlineBatchBytes: projectsInlineBatchBytes,
    leaseMs: projectsLeaseMs
  }))
  app.decorate('usersRepository', new UsersRepository({
    dynamodb,
    table: config.tables.users
  }))
  app.decorate('assetsRepository', new AssetsRepository({
    dynamodb,
    s3,
    table: config.tables.assets,
    bucket: config.buckets.assets,
    limits: config.assets
  }))
}, { name: 'repositories', dependencies: ['aws'] })
