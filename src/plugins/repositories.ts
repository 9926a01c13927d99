import fp from 'fastify-plugin'
import type { Config } from '../config.ts'
import { DataRepository } from '../repositories/data.ts'
import { HealthRepository } from '../repositories/health.ts'
import { UsersRepository } from '../repositories/users.ts'

declare module 'fastify' {
  interface FastifyInstance {
    dataRepository: DataRepository
    healthRepository: HealthRepository
    usersRepository: UsersRepository
  }
}

export interface RepositoriesOptions {
  config: Config
  /** Moves /data payloads above this many bytes to S3 (tests lower it). */
  dataInlinePayloadBytes?: number
}

export default fp<RepositoriesOptions>(async (app, { config, dataInlinePayloadBytes }) => {
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
  app.decorate('usersRepository', new UsersRepository({
    dynamodb,
    table: config.tables.users
  }))
}, { name: 'repositories', dependencies: ['aws'] })
