/**
 * The projection a page of batches at a time: killed anywhere in a page, raced
 * by another projector, and on pages that touch more entities than one
 * BatchGetItem reads, entity pointers, outdatedBy marks and stats end as if
 * every change had been applied once, in order.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { createAwsClients, destroyAwsClients } from '../../src/aws/clients.ts'
import { ProjectsRepository, type Change, type ChangeInput } from '../../src/repositories/projects/index.ts'
import { failWritesAfter } from '../fixtures/failing-dynamodb.ts'
import { testConfig } from '../helper.ts'

const LEASE_MS = 200

async function setup(t: { teardown: (fn: () => unknown) => void }) {
  const config = await testConfig()
  const clients = createAwsClients(config)
  t.teardown(() => destroyAwsClients(clients))
  // Each its own process: no background runs, a dead projector's lease lapses quickly.
  const process = () =>
    new ProjectsRepository({ dynamodb: clients.dynamodb, table: config.tables.projects, leaseMs: LEASE_MS })
  return { clients, process }
}

const change = (entityId: string, operation: ChangeInput['operation'], v: number): ChangeInput => ({
  entityType: entityId.startsWith('f') ? 'folder' : 'document',
  entityId,
  operation,
  ...(operation === 'delete' ? {} : { data: { v } })
})

/** Batches whose changes go to `entities`, several of them more than once in a batch and across batches. */
function batchesOf(entities: string[], batches: number, size: number, seed: number): ChangeInput[][] {
  return Array.from({ length: batches }, (_, b) =>
    Array.from({ length: size }, (_, i) => {
      const n = seed + b * size + i
      const entityId = entities[(n * 7 + b) % entities.length]!
      return change(entityId, n % 6 === 5 ? 'delete' : 'update', n)
    })
  )
}

/** Checks entity pointers, marks and stats against the feed: each change applied exactly once, in order. */
async function checkProjection(t: Test, repo: ProjectsRepository, projectId: string, what: string) {
  // Stats first: they catch the projection up; the feed read with outdated changes does not.
  const stats = await repo.stats(projectId)
  const all: Change[] = (await repo.read(projectId, { since: 0, limit: 1000, includeOutdated: true })).changes
  const last = new Map<string, Change>()
  let wrongMarks = 0
  for (const [i, c] of all.entries()) {
    const next = all.slice(i + 1).find(d => d.entityType === c.entityType && d.entityId === c.entityId)
    if (c.outdatedBy !== next?.seq) wrongMarks++
    last.set(`${c.entityType}/${c.entityId}`, c)
  }
  t.equal(wrongMarks, 0, `${what}: every change is outdated by its entity's next change, the last by none`)
  const count = (key: 'operation' | 'entityType') =>
    all.reduce<Record<string, number>>((acc, c) => ({ ...acc, [c[key]]: (acc[c[key]] ?? 0) + 1 }), {})
  t.match(
    stats,
    {
      totalChanges: all.length,
      latestSeq: all.length,
      projectedSeq: all.length,
      byOperation: count('operation'),
      byEntityType: count('entityType'),
      outdatedChanges: all.length - last.size
    },
    `${what}: stats count each change once`
  )
  let wrongEntities = 0
  for (const [key, c] of last) {
    const [entityType, entityId] = key.split('/') as [string, string]
    const { entity } = await repo.entity(projectId, entityType, entityId)
    if (entity?.seq !== c.seq || entity.deleted !== (c.operation === 'delete') || entity.outdatedBy !== undefined)
      wrongEntities++
  }
  t.equal(wrongEntities, 0, `${what}: every entity is at its last change`)
}

t.test('a projector killed anywhere in a page: every entity ends at its last change, marks right', async t => {
  const { clients, process } = await setup(t)
  const entities = ['a', 'b', 'c', 'd', 'e', 'f1', 'f2']
  let k = 0
  for (; k < 200; k++) {
    const projectId = `kill-${k}`
    const writer = process()
    // Projected already: pointers before the page, whose changes the page must mark.
    for (const batch of batchesOf(entities.slice(0, 5), 2, 3, 0)) await writer.append(projectId, batch)
    await writer.project(projectId)
    // The page: 6 batches, entities repeated within batches and across them, deletes among them.
    for (const batch of batchesOf(entities, 6, 4, 100)) await writer.append(projectId, batch)

    const failure = failWritesAfter(clients.dynamodb, k)
    let died = false
    try {
      await process().project(projectId)
    } catch (err) {
      t.equal((err as Error).name, 'InjectedFailure')
      died = true
    } finally {
      failure.restore()
    }
    // A batch lands after it died, so whoever finishes works a page that ends elsewhere.
    await writer.append(projectId, [change('a', 'update', 999), change('f2', 'delete', 0)])
    if (died) await sleep(LEASE_MS + 50)
    await checkProjection(t, process(), projectId, `killed after ${k} writes`)
    if (!died) break
  }
  t.ok(k >= 10, `the projector died at each of ${k} points of its page before one finished it`)
})

t.test('two projectors on the same backlog at once, their leases lapsing under them', async t => {
  const { process } = await setup(t)
  const writer = process()
  const entities = Array.from({ length: 12 }, (_, i) => (i % 4 === 0 ? `f${i}` : `e${i}`))
  for (const batch of batchesOf(entities, 30, 5, 0)) await writer.append('race', batch)
  // Each works pages well past a lease of 200 ms, so the other takes it over while it still writes.
  await Promise.all([process().project('race', 10_000), process().project('race', 10_000), writer.project('race')])
  await checkProjection(t, writer, 'race', 'overlapping projectors')
})

t.test('a page touching more entities than one BatchGetItem reads, some in several batches', async t => {
  const { process } = await setup(t)
  const repo = process()
  const entities = Array.from({ length: 130 }, (_, i) => `e${i}`)
  await repo.append(
    'wide',
    entities.slice(0, 40).map((e, i) => change(e, 'create', i))
  )
  await repo.project('wide')
  // 250 changes to 130 entities in one page: pointers read in two BatchGetItems, each key once.
  await repo.append('wide', [...entities.map((e, i) => change(e, 'update', i)), change('e7', 'delete', 0)])
  await repo.append(
    'wide',
    entities.slice(10, 129).map((e, i) => change(e, 'update', i + 1000))
  )
  await checkProjection(t, repo, 'wide', '130 entities in a page')
})
