/**
 * The Lambda handler around a built app: API Gateway events through
 * @fastify/aws-lambda, and every other event source the function is wired to
 * dispatched to its job, one branch per source.
 */
import awsLambdaFastify from '@fastify/aws-lambda'
import type { Context } from 'aws-lambda'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config/config.ts'
import {
  assetIdOfKey,
  continuationOf,
  insertedKeys,
  isApiGatewayEvent,
  isBinaryResponse,
  isDynamoDBStreamEvent,
  isS3Event,
  isScheduledSync,
  isSyncContinuation,
  normalizeEvent,
  objectKeyOf,
  type DynamoDBStreamEvent,
  type S3Event
} from '../aws/lambda-events.ts'

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
   * When a sync slice must stop: SYNC_STOP_BEFORE_MS before this invocation's
   * deadline, or halfway there when the function's timeout is shorter than that.
   */
  function sliceDeadline(context: Context): number {
    const remaining = context.getRemainingTimeInMillis()
    return Date.now() + Math.max(remaining - config.sync.stopBeforeMs, remaining / 2)
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
    if (isSyncContinuation(event)) {
      // Never logged whole: the event may carry the request's credentials. Its kind's slice runner takes it.
      const next = continuationOf(event)
      await app.sync.slices.run(next, sliceDeadline(context))
      return { sync_run: next.runId, hop: next.hop }
    }
    if (isScheduledSync(event)) {
      const { runs, slices } = app.sync
      if (!runs.accountConfigured) {
        app.log.info('sync schedule: no Obsidian account is configured, so there is nothing to sync')
        return { sync_run: null, reason: 'no Obsidian account configured' }
      }
      const run = await runs.start({ syncType: event.sync_type, trigger: 'schedule' }, { launch: false })
      await slices.run({ runId: run.runId, hop: 1 }, sliceDeadline(context))
      // `aws lambda invoke --payload '{"sync_type": …}'` answers with the run's SyncResponse when it ended in
      // this invocation; a run that goes on in further slices answers with its id.
      const ended = await runs.get(run.runId)
      return ended?.run.result ?? { sync_run: run.runId }
    }
    if (isDynamoDBStreamEvent(event)) return await projectsWritten(event, context)
    app.log.error({ event: Object.keys(event as object) }, 'unsupported event')
    throw new Error(
      'Unsupported event: this function serves API Gateway REST (1.0) and HTTP API (2.0) events, S3 notifications, DynamoDB stream records, sync continuations and the sync schedule'
    )
  }
}
