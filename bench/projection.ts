/**
 * The projection against the appends, for `npm run bench`, with a per-call
 * latency that models DynamoDB on both sides (bench/latency.ts): how fast
 * one project's backlog is projected, how fast appends land, and how long
 * after a burst of appends the projection takes to catch up.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb'
import type { FastifyInstance } from 'fastify'
import { documentClient } from '../src/repositories/dynamo.ts'
import { ProjectsRepository } from '../src/repositories/projects/index.ts'
import type { Latency } from './latency.ts'

export interface ProjectionFigures {
  latencyMs: number
  writers: number
  batchSize: number
  /** Changes accepted per second during the burst. */
  appendRate: number
  /** Changes a projector applies per second working through a backlog on one project. */
  projectionRate: number
  /** How long after the burst's last answer entity state and stats had every change; undefined past `capSeconds`. */
  catchUpSeconds?: number
  capSeconds: number
  /** How far the projection had got when the burst ended, and the feed's end. */
  projectedAtEnd: number
  appended: number
}

export interface ProjectionOptions {
  app: FastifyInstance
  /** The projects table. */
  table: string
  headers: Record<string, string>
  latency: Latency
  latencyMs: number
  writers: number
  batchSize: number
  burstSeconds: number
  backlogChanges: number
  capSeconds: number
}

/** Entities a batch's changes go to: a pool larger than a page, so pages touch many. */
const ENTITIES = 500

const changesOf = (n: number, size: number) =>
  Array.from({ length: size }, (_, i) => ({
    entityType: 'document',
    entityId: `e${(n * size + i) % ENTITIES}`,
    operation: 'update' as const,
    data: { title: 'a title', body: 'x'.repeat(200) }
  }))

/** META's projectedSeq, read as it is (reading stats would help the projection along). */
async function projectedSeq(app: FastifyInstance, table: string, projectId: string): Promise<number> {
  const { Item } = await documentClient(app.aws.dynamodb).send(
    new GetCommand({
      TableName: table,
      Key: { pk: `P#${projectId}`, sk: 'META' },
      ProjectionExpression: 'projectedSeq',
      ConsistentRead: true
    })
  )
  return (Item?.projectedSeq as number | undefined) ?? 0
}

export async function measureProjection(options: ProjectionOptions): Promise<ProjectionFigures> {
  const { app, table, headers, latency, writers, batchSize } = options

  // A backlog appended with projection off, then projected by one caller, everything delayed.
  const backlogProject = `backlog-${batchSize}`
  const quiet = new ProjectsRepository({ dynamodb: app.aws.dynamodb, table })
  const batches = Math.ceil(options.backlogChanges / batchSize)
  for (let n = 0; n < batches; n++) await quiet.append(backlogProject, changesOf(n, batchSize))
  latency.set(true)
  const started = performance.now()
  const reached = await quiet.project(backlogProject, 600_000)
  const projectionRate = Math.round(reached / ((performance.now() - started) / 1000))

  // A burst of appends through the app, its projection in the background as the server runs it.
  const burstProject = `burst-${batchSize}`
  const deadline = performance.now() + options.burstSeconds * 1000
  const burstStart = performance.now()
  let appended = 0
  let n = 0
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < deadline) {
        const res = await app.inject({
          method: 'POST',
          url: `/projects/${burstProject}/changes`,
          headers,
          payload: { changes: changesOf(n++, batchSize) }
        })
        if (res.statusCode !== 201) throw new Error(`append: ${res.statusCode} ${res.body}`)
        const { changes } = res.json() as { changes: Array<{ seq: number }> }
        appended = Math.max(appended, changes.at(-1)!.seq)
      }
    })
  )
  const burstEnd = performance.now()
  const appendRate = Math.round(appended / ((burstEnd - burstStart) / 1000))
  const projectedAtEnd = await projectedSeq(app, table, burstProject)
  let catchUpSeconds: number | undefined
  while (performance.now() - burstEnd < options.capSeconds * 1000) {
    if ((await projectedSeq(app, table, burstProject)) >= appended) {
      catchUpSeconds = Math.round((performance.now() - burstEnd) / 100) / 10
      break
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  // What is left of the backlog is projected at the engine's own speed while the app closes.
  latency.set(false)
  return {
    latencyMs: options.latencyMs,
    writers,
    batchSize,
    appendRate,
    projectionRate,
    catchUpSeconds,
    capSeconds: options.capSeconds,
    projectedAtEnd,
    appended
  }
}
