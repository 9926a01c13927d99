/**
 * The Lambda handler around a built app: API Gateway events through
 * @fastify/aws-lambda, and every other event source the function is wired to
 * dispatched to its job, one branch per source.
 */
import awsLambdaFastify from '@fastify/aws-lambda'
import type { Context } from 'aws-lambda'
import type { FastifyInstance } from 'fastify'
import type { Config } from './config.ts'
import {
  assetIdOfKey,
  insertedKeys,
  isApiGatewayEvent,
  isBinaryResponse,
  isDynamoDBStreamEvent,
  isS3Event,
  normalizeEvent,
  objectKeyOf,
  type DynamoDBStreamEvent,
  type S3Event
} from './lambda-events.ts'

export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>

/** Readies the app (compiling every schema now, during init) and returns the handler. */
export async function createLambdaHandler(app: FastifyInstance, config: Config): Promise<LambdaHandler> {
  const proxy = awsLambdaFastify(app, {
    enforceBase64: isBinaryResponse,
    callbackWaitsForEmptyEventLoop: false
  })
  await app.ready()

  /**
   * S3 ObjectCreated notifications on the assets bucket: each asset gets the
   * check GET /assets/{id} runs, so it is marked uploaded without a client polling.
   * A failure throws, and Lambda retries the notification.
   */
  async function assetsUploaded(event: S3Event): Promise<{ assets: Array<{ key: string; status: string }> }> {
    const assets = []
    for (const record of event.Records) {
      const key = objectKeyOf(record.s3.object.key)
      const assetId = assetIdOfKey(key)
      if (
        !record.eventName.startsWith('ObjectCreated') ||
        record.s3.bucket.name !== config.buckets.assets ||
        assetId === undefined
      ) {
        app.log.warn({ bucket: record.s3.bucket.name, key, eventName: record.eventName }, 'S3 notification ignored')
        continue
      }
      const status = await app.assetsRepository.objectCreated(assetId, key)
      app.log.info({ assetId, key, status }, 'S3 notification handled')
      assets.push({ key, status: status ?? 'unknown' })
    }
    return { assets }
  }

  /**
   * The projects table's stream: batches that landed get their projection
   * (entities, outdatedBy, stats). A projection that stays behind throws, and
   * Lambda retries the records (then sends them to the dead-letter queue).
   */
  async function projectsWritten(
    event: DynamoDBStreamEvent,
    context: Context
  ): Promise<{ projects: Array<{ projectId: string; projectedSeq: number }> }> {
    const keys = insertedKeys(event, config.tables.projects)
    // Leave time to answer before the invocation's deadline.
    const budgetMs = Math.max(1000, context.getRemainingTimeInMillis() - 5000)
    const projects = await app.projectsRepository.projectWritten(keys, budgetMs)
    app.log.info({ records: event.Records.length, projects }, 'projects stream handled')
    return { projects }
  }

  return async (event, context) => {
    if (isApiGatewayEvent(event)) {
      return await proxy(normalizeEvent(event) as Parameters<typeof proxy>[0], context)
    }
    if (isS3Event(event)) return await assetsUploaded(event)
    if (isDynamoDBStreamEvent(event)) return await projectsWritten(event, context)
    app.log.error({ event: Object.keys(event as object) }, 'unsupported event')
    throw new Error(
      'Unsupported event: this function serves API Gateway REST (1.0) and HTTP API (2.0) events, S3 notifications and DynamoDB stream records'
    )
  }
}
