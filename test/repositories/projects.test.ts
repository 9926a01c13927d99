import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createAwsClients, destroyAwsClients } from '../../src/aws/clients.ts'
import { ProjectsRepository, type ChangeInput } from '../../src/repositories/projects/index.ts'
import { countCalls } from '../../scripts/lib/counting-dynamodb.ts'
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
  // Another process on the same table: its own memory of finalized batches and its own queue of appends.
  const another = () =>
    new ProjectsRepository({ dynamodb: clients.dynamodb, table: config.tables.projects, leaseMs: 200 })
  return { repo, clients, another }
}

const doc = (entityId: string, operation: ChangeInput['operation'] = 'update', changeId?: string): ChangeInput => ({
  entityType: 'document',
  entityId,
  operation,
  ...(operation === 'delete' ? {} : { data: { v: entityId } }),
  ...(changeId ? { changeId } : {})
})

const feed = async (repo: ProjectsRepository, projectId: string) =>
  (await repo.read(projectId, { since: 0, limit: 1000, includeOutdated: true })).changes
const seqs = async (repo: ProjectsRepository, projectId: string): Promise<number[]> =>
  (await feed(repo, projectId)).map(c => c.seq)
const answered = (changes: Array<{ changeId?: string; seq: number; duplicate: boolean }>) =>
  changes.map(c => [c.changeId, c.seq, c.duplicate])
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
    t.match((await repo.entity('p1', 'document', 'a')).entity, { seq: expected, operation: 'update' })
    t.match((await repo.entity('p1', 'document', 'b')).entity, { seq: expected - 1 })
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
  for (let i = 0; i < 50 && stats!.projectedSeq < 120; i++) stats = await repo.stats('p1')
  t.match(stats, {
    totalChanges: 120,
    latestSeq: 120,
    projectedSeq: 120,
    outdatedChanges: 117,
    byEntityType: { document: 120 }
  })
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
    const entity = (await repo.entity('p1', 'document', entityId)).entity
    t.match(entity, { seq: mine.at(-1)!.seq, deleted: mine.at(-1)!.operation === 'delete' })
  }
})

t.test('a change whose changeId landed is never appended again, however the retry regroups it', async t => {
  const { repo } = await setup(t)
  const c = (i: number) => doc(`e${i}`, 'create', `c${i}`)
  const first = await repo.append('p1', [c(1), c(2), c(3), c(4), c(5)])
  t.same(
    answered(first),
    [1, 2, 3, 4, 5].map(i => [`c${i}`, i, false])
  )
  t.same(answered(await repo.append('p1', [c(1)])), [['c1', 1, true]], 'resent alone: its first seq, nothing written')
  t.same(
    answered(await repo.append('p1', [c(6), c(3), c(7), c(5), c(8)])),
    [
      ['c6', 6, false],
      ['c3', 3, true],
      ['c7', 7, false],
      ['c5', 5, true],
      ['c8', 8, false]
    ],
    'mixed with new changes: only those are appended, at consecutive seqs'
  )
  const duplicate = (await repo.append('p1', [c(4)]))[0]!
  t.same(duplicate, { ...first[3]!, duplicate: true }, 'a duplicate answers with the change as it landed')
  await t.rejects(repo.append('p1', [c(9), { ...c(2), data: { v: 'other' } }]), { code: 'CHANGE_ID_REUSED' })
  t.same(
    (await feed(repo, 'p1')).map(ch => [ch.seq, ch.changeId]),
    [1, 2, 3, 4, 5, 6, 7, 8].map(i => [i, `c${i}`]),
    'each change once; the rejected request wrote nothing'
  )
})

t.test('retries racing their originals from several processes, regrouped: each changeId lands once', async t => {
  const { repo, another } = await setup(t)
  const processes = [repo, another(), another(), another()]
  const c = (i: number) => doc(`e${i % 4}`, 'update', `r${i}`)
  const requests = [[0, 1, 2, 3, 4], [0], [3, 4, 5, 6], [6, 7, 8, 9, 10, 11], [11, 10], [2, 8], [1, 5, 9], [7]]
  // Every request is sent twice at once, from two processes, while a writer without changeIds appends too.
  const [results] = await Promise.all([
    Promise.all(
      requests.flatMap((ids, r) =>
        [0, 1].map(k =>
          processes[(r + k) % processes.length]!.append(
            'p1',
            ids.map(i => c(i))
          )
        )
      )
    ),
    (async () => {
      for (let i = 0; i < 5; i++) await processes[i % processes.length]!.append('p1', [doc('plain')])
    })()
  ])
  const all = await feed(repo, 'p1')
  t.same(
    all.map(ch => ch.seq),
    range(17),
    '12 changes with changeIds and 5 without, seqs 1..17'
  )
  const landedAt = new Map(all.filter(ch => ch.changeId !== undefined).map(ch => [ch.changeId!, ch.seq]))
  t.equal(landedAt.size, 12, 'each changeId is in the feed once')
  let appended = 0
  for (const result of results) {
    t.ok(
      result.every(ch => landedAt.get(ch.changeId!) === ch.seq),
      'every answer gives the seq its change landed at'
    )
    const fresh = result.filter(ch => !ch.duplicate).map(ch => ch.seq)
    t.same(
      fresh,
      fresh.map((_, i) => fresh[0]! + i),
      'what one request appended is consecutive'
    )
    appended += fresh.length
  }
  t.equal(appended, 12, 'each change was answered as appended once, and as a duplicate otherwise')
})

t.test('a writer killed after its batch landed and before any receipt: retries find the batch', async t => {
  const { clients, another } = await setup(t)
  const writer = another()
  await writer.append('p1', [doc('warm-up')])
  const batch = [doc('a', 'create', 'k1'), doc('b', 'create', 'k2'), doc('a', 'update', 'k3')]
  const failure = failWritesAfter(clients.dynamodb, 1)
  let result: Awaited<ReturnType<ProjectsRepository['append']>>
  try {
    result = await writer.append('p1', batch)
  } finally {
    failure.restore()
  }
  t.equal(failure.writes, 1, 'the batch put went through and nothing after it')
  t.same(answered(result), [
    ['k1', 2, false],
    ['k2', 3, false],
    ['k3', 4, false]
  ])

  // The writer's process is gone. Retries, regrouped, from processes that never saw it, racing each other.
  const retries = await Promise.all([
    another().append('p1', [batch[1]!, doc('c', 'create', 'k4')]),
    another().append('p1', [batch[2]!]),
    another().append('p1', [doc('c', 'create', 'k4'), batch[0]!])
  ])
  t.same(answered(retries[1]), [['k3', 4, true]])
  const firstAnswer = new Map(result.map(ch => [ch.changeId, ch]))
  for (const ch of retries.flat().filter(ch => ch.changeId !== 'k4'))
    t.same(ch, { ...firstAnswer.get(ch.changeId)!, duplicate: true }, `${ch.changeId} answers as it was first answered`)
  const k4 = retries.flat().filter(ch => ch.changeId === 'k4')
  t.same(
    k4.map(ch => ch.seq),
    [5, 5],
    'k4, new, landed once'
  )
  t.same(k4.map(ch => ch.duplicate).sort(), [false, true])
  t.same(await seqs(writer, 'p1'), range(5), 'seqs 1..5, nothing twice')
})

t.test('a projector killed after any number of writes: no change counted twice or never', async t => {
  const { repo, clients } = await setup(t)
  const entities = ['a', 'b', 'c']
  let appended = 0
  for (let b = 0; b < 4; b++) {
    await repo.append(
      'p1',
      entities.map((e, i) => doc(e, (b + i) % 4 === 3 ? 'delete' : b === 0 ? 'create' : 'update'))
    )
    appended += 3
  }
  let k = 0
  for (; k < 200; k++) {
    const failure = failWritesAfter(clients.dynamodb, k)
    let died = false
    try {
      await repo.project('p1')
    } catch (err) {
      t.equal((err as Error).name, 'InjectedFailure')
      died = true
    } finally {
      failure.restore()
    }
    if (!died) break
    // It died holding the lease (its release failed too): the next projector waits for it to lapse.
    await sleep(250)
  }
  t.ok(k >= 5, `projectors died at ${k} points of the projection before one finished`)

  const stats = await repo.stats('p1')
  const all = await feed(repo, 'p1')
  const count = (key: 'operation' | 'entityType') =>
    all.reduce<Record<string, number>>((acc, ch) => ({ ...acc, [ch[key]]: (acc[ch[key]] ?? 0) + 1 }), {})
  t.match(stats, {
    totalChanges: appended,
    latestSeq: appended,
    byOperation: count('operation'),
    byEntityType: count('entityType'),
    outdatedChanges: appended - entities.length
  })
  for (const entityId of entities) {
    const mine = all.filter(ch => ch.entityId === entityId)
    t.same(
      mine.map(ch => ch.outdatedBy),
      [...mine.slice(1).map(ch => ch.seq), undefined],
      `${entityId}: each change outdated by the next, once`
    )
    t.match((await repo.entity('p1', 'document', entityId)).entity, { seq: mine.at(-1)!.seq })
  }
})

t.test('writers in several processes race for each slot: seqs 1..n, no gap, no duplicate, in order', async t => {
  const { repo, clients, another } = await setup(t)
  const processes = [repo, another(), another(), another()]
  const counter = countCalls(clients.dynamodb)
  const PER_WRITER = 40
  const seen: number[] = []
  let writing = true
  const tail = (async () => {
    let since = 0
    while (writing || seen.length < processes.length * 2 * PER_WRITER) {
      const page = await repo.read('p1', { since, limit: 7, includeOutdated: true })
      seen.push(...page.changes.map(c => c.seq))
      since = page.lastSeq
    }
  })()
  const { calls } = await counter.during(() =>
    Promise.all(
      processes.flatMap((process, p) =>
        [0, 1].map(async w => {
          for (let i = 0; i < PER_WRITER; i++) await process.append('p1', [doc(`p${p}-w${w}-${i}`, 'create')])
        })
      )
    )
  )
  writing = false
  await tail
  const total = processes.length * 2 * PER_WRITER
  t.same(await seqs(repo, 'p1'), range(total))
  t.same(seen, range(total), 'a reader tailing the feed saw each seq once, in order')
  // Besides each batch's put and the two registration puts: puts that lost the race for their slot.
  t.ok((calls.get('PutItem') ?? 0) > total + 2, `processes lost races and went around (${calls.get('PutItem')} puts)`)
})

t.test('a long poll at the end of the feed costs one Query a poll once it knows a batch ends at since', async t => {
  const { repo, clients } = await setup(t)
  await repo.append('p1', [doc('a'), doc('b')])
  const counter = countCalls(clients.dynamodb)
  const polls = async (since: number) => {
    let reads = 0
    const { result, calls } = await counter.during(async () => {
      const hint = {}
      const pages = []
      for (let i = 0; i < 4; i++, reads++)
        pages.push(await repo.read('p1', { since, limit: 10, includeOutdated: true }, hint))
      return pages
    })
    return { pages: result, queries: calls.get('Query') ?? 0, reads }
  }
  const atEnd = await polls(2)
  t.same(
    atEnd.pages.map(p => p.changes.length),
    [0, 0, 0, 0]
  )
  t.equal(atEnd.queries, atEnd.reads + 1, 'the first poll looked for a batch holding seq 3, the others did not')
  const inside = await polls(1)
  t.same(
    inside.pages.map(p => p.changes.map(c => c.seq)),
    [[2], [2], [2], [2]],
    'since inside a batch: it is found every time'
  )
  // A since past the end is no batch's end: a later batch may start before it.
  const beyond = await polls(5)
  t.equal(beyond.queries, beyond.reads * 2)
  await repo.append('p1', [doc('c'), doc('d'), doc('e'), doc('f'), doc('g')])
  t.same(
    (await repo.read('p1', { since: 5, limit: 10, includeOutdated: true }, {})).changes.map(c => c.seq),
    [6, 7],
    'the batch 3..7 holds what is after 5'
  )
})
