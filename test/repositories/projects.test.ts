import t from 'tap'
import { createAwsClients, destroyAwsClients } from '../../src/aws-clients.ts'
import { ProjectsRepository, type ChangeInput } from '../../src/repositories/projects/index.ts'
import { failWritesAfter } from '../fixtures/failing-dynamodb.ts'
import { testConfig } from '../helper.ts'

async function setup(t: { teardown: (fn: () => unknown) => void }) {
  const config = await testConfig()
  const clients = createAwsClients(config)
  t.teardown(() => destroyAwsClients(clients))
  // Small batches are staged too, and a dead projector's lease lapses quickly.
  const repo = new ProjectsRepository({
    dynamodb: clients.dynamodb,
    table: config.tables.projects,
    inlineBatchBytes: 200,
    leaseMs: 200
  })
  return { repo, clients }
}

const doc = (entityId: string, operation: ChangeInput['operation'] = 'update', changeId?: string): ChangeInput => ({
  entityType: 'document',
  entityId,
  operation,
  ...(operation === 'delete' ? {} : { data: { v: entityId } }),
  ...(changeId ? { changeId } : {})
})

async function seqs(repo: ProjectsRepository, projectId: string): Promise<number[]> {
  return (await repo.read(projectId, { since: 0, limit: 1000, includeOutdated: true })).changes.map(c => c.seq)
}
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1)

t.test(
  'guarantee 5: a writer that dies after any number of writes leaves no gap, and its retry completes the batch',
  async t => {
    const { repo, clients } = await setup(t)
    let expected = 0
    let k = 0
    for (; k < 40; k++) {
      const batch = [doc('a', 'create', `k${k}-1`), doc('b', 'create', `k${k}-2`), doc('a', 'update', `k${k}-3`)]
      const failure = failWritesAfter(clients.dynamodb, k)
      let died = false
      try {
        await repo.append('p1', batch)
      } catch (err) {
        t.equal((err as Error).name, 'InjectedFailure', `writer died after ${k} writes`)
        died = true
      } finally {
        failure.restore()
      }
      const visible = await seqs(repo, 'p1')
      // Once its batch has landed, the append answers: what fails after it is not the client's failure.
      t.equal(
        visible.length,
        died ? expected : expected + 3,
        `after ${k} writes: ${died ? 'the writer died and left nothing visible' : 'the batch is visible and was answered'}`
      )
      t.same(visible, range(visible.length), `after ${k} writes: the feed is contiguous`)
      const retried = await repo.append('p1', batch)
      t.same(
        retried.map(c => c.seq),
        [expected + 1, expected + 2, expected + 3],
        `after ${k} writes: the retry gets (or completes) seqs ${expected + 1}..${expected + 3}`
      )
      expected += 3
      t.same(await seqs(repo, 'p1'), range(expected), 'once each')
      if (!died) break
    }
    t.ok(k >= 2, 'the failure hit every write before the batch landed in turn')

    // Projection converges once someone reads, even after projectors died holding the lease.
    await new Promise(resolve => setTimeout(resolve, 250))
    const stats = await repo.stats('p1')
    t.match(stats, {
      totalChanges: expected,
      latestSeq: expected,
      byOperation: { create: (expected / 3) * 2, update: expected / 3 }
    })
    t.equal(stats!.outdatedChanges, expected - 2, 'all but the latest change of a and of b are outdated')
    t.match(await repo.entity('p1', 'document', 'a'), { seq: expected, operation: 'update' })
    t.match(await repo.entity('p1', 'document', 'b'), { seq: expected - 1 })
    const all = (await repo.read('p1', { since: 0, limit: 1000, includeOutdated: true })).changes
    for (const change of all.slice(0, -2)) {
      const next = all.find(c => c.seq > change.seq && c.entityId === change.entityId)
      t.equal(change.outdatedBy, next?.seq, `outdatedBy of ${change.seq}`)
    }
  }
)

t.test('staged batches read back whole, across pages and from the middle', async t => {
  const { repo } = await setup(t)
  const big = Array.from({ length: 60 }, (_, i) => doc(`e${i}`, 'create'))
  const appended = await repo.append('p1', big)
  t.same(
    appended.map(c => c.seq),
    range(60)
  )
  const middle = await repo.read('p1', { since: 30, limit: 10, includeOutdated: true })
  t.same(
    middle.changes.map(c => c.entityId),
    Array.from({ length: 10 }, (_, i) => `e${30 + i}`)
  )
  t.same([middle.lastSeq, middle.hasMore], [40, true])
  t.match(await repo.change('p1', 60), { seq: 60, entityId: 'e59', data: { v: 'e59' } })
})

t.test('projection converges while writers race on the same entities', async t => {
  const { repo } = await setup(t)
  const entities = ['a', 'b', 'c']
  await Promise.all(
    Array.from({ length: 6 }, async (_, w) => {
      for (let i = 0; i < 20; i++)
        await repo.append('p1', [doc(entities[(w + i) % 3]!, i % 5 === 4 ? 'delete' : 'update')])
    })
  )
  let stats = await repo.stats('p1')
  for (let i = 0; i < 50 && stats!.latestSeq < 120; i++) stats = await repo.stats('p1')
  t.match(stats, { totalChanges: 120, latestSeq: 120, outdatedChanges: 117, byEntityType: { document: 120 } })
  t.equal((stats!.byOperation.update ?? 0) + (stats!.byOperation.delete ?? 0), 120)
  const all = (await repo.read('p1', { since: 0, limit: 1000, includeOutdated: true })).changes
  for (const entityId of entities) {
    const mine = all.filter(c => c.entityId === entityId)
    t.same(
      mine.slice(0, -1).map(c => c.outdatedBy),
      mine.slice(1).map(c => c.seq),
      `${entityId}: each change is outdated by the next`
    )
    t.equal(mine.at(-1)!.outdatedBy, undefined)
    const entity = await repo.entity('p1', 'document', entityId)
    t.match(entity, { seq: mine.at(-1)!.seq, deleted: mine.at(-1)!.operation === 'delete' })
  }
})
