import t from 'tap'
import { GetItemCommand } from '@aws-sdk/client-dynamodb'
import { generateApiKey } from '../../src/auth/api-keys.ts'
import { poll } from '../../src/core/poll.ts'
import { failWritesAfter } from '../fixtures/failing-dynamodb.ts'
import { change } from '../fixtures/project-changes.ts'
import { buildTestApp, injectAs, type TestApp } from '../helper.ts'

const writer = generateApiKey('projects-all', ['projects:*:*'])
const p1Reader = generateApiKey('p1-reader', ['projects:p1:read'])
const env = { API_KEYS: JSON.stringify([writer.entry, p1Reader.entry]), RATE_LIMIT_MAX: '1000000' }
const headers = { 'content-type': 'application/json', 'x-api-key': writer.key }

type App = TestApp['app']
interface Change {
  seq: number
  entityType: string
  entityId: string
  operation: string
  data?: Record<string, unknown>
  changeId?: string
  outdatedBy?: number
  duplicate?: boolean
  timestamp: string
  createdAt: string
  projectId: string
}
interface Page {
  changes: Change[]
  lastSeq: number
  hasMore: boolean
}

async function append(app: App, projectId: string, body: unknown): Promise<Change[]> {
  const res = await injectAs(app, writer.key).post(`/projects/${projectId}/changes`, body)
  if (res.statusCode !== 201) throw new Error(`append failed: ${res.statusCode} ${res.body}`)
  return (res.json() as { changes: Change[] }).changes
}

async function page(app: App, projectId: string, query: string): Promise<Page> {
  const res = await injectAs(app, writer.key).get(`/projects/${projectId}/changes?${query}`)
  if (res.statusCode !== 200) throw new Error(`read failed: ${res.statusCode} ${res.body}`)
  return res.json() as Page
}

async function readAll(app: App, projectId: string, query = ''): Promise<Change[]> {
  const all: Change[] = []
  let since = 0
  while (true) {
    const p = await page(app, projectId, `since=${since}&limit=1000&${query}`)
    all.push(...p.changes)
    since = p.lastSeq
    if (!p.hasMore) return all
  }
}

const get = (app: App, url: string) => injectAs(app, writer.key).get(url)

t.test('append one change, then a batch: consecutive seqs, the documented shape', async t => {
  const { app } = await buildTestApp(t, { env })
  const [first] = await append(
    app,
    'p1',
    change('a', 'create', { timestamp: '2026-01-02T03:04:05.000Z', changeId: 'c-1' })
  )
  t.match(first, {
    seq: 1,
    projectId: 'p1',
    entityType: 'document',
    entityId: 'a',
    operation: 'create',
    timestamp: '2026-01-02T03:04:05.000Z',
    data: { title: 'title of a' },
    changeId: 'c-1'
  })
  t.ok(Date.parse(first!.createdAt) > 0, 'createdAt is a time')
  const batch = await append(app, 'p1', { changes: [change('b'), change('a', 'update'), change('b', 'delete')] })
  t.same(
    batch.map(c => c.seq),
    [2, 3, 4]
  )
  t.equal(batch[0]!.timestamp, batch[0]!.createdAt, 'without a client timestamp, the server time')
  t.notOk('data' in batch[2]!, 'a delete has no data')

  const all = await page(app, 'p1', 'since=0')
  t.same(
    all.changes.map(c => c.seq),
    [1, 2, 3, 4]
  )
  t.equal(all.lastSeq, 4)
  t.equal(all.hasMore, false)
  const firstTwo = await page(app, 'p1', 'limit=2')
  t.same([firstTwo.changes.map(c => c.seq), firstTwo.lastSeq, firstTwo.hasMore], [[1, 2], 2, true])
  // since=2 falls inside the batch 2..4
  const rest = await page(app, 'p1', 'since=2')
  t.same([rest.changes.map(c => c.seq), rest.lastSeq, rest.hasMore], [[3, 4], 4, false])
  const none = await page(app, 'p1', 'since=4')
  t.same(none, { changes: [], lastSeq: 4, hasMore: false })

  const one = await get(app, '/projects/p1/changes/3')
  t.equal(one.statusCode, 200)
  t.match(one.json(), { seq: 3, entityId: 'a', operation: 'update' })
  t.equal((await get(app, '/projects/p1/changes/5')).statusCode, 404)
  t.equal((await get(app, '/projects/p1/changes/5')).json().code, 'CHANGE_NOT_FOUND')
  t.equal((await get(app, '/projects/p2/changes/1')).statusCode, 404)
})

t.test('outdatedBy, includeOutdated=false and the entityType filter', async t => {
  const { app } = await buildTestApp(t, { env })
  await append(app, 'p1', change('a'))
  await append(app, 'p1', { changes: [change('b'), { ...change('x'), entityType: 'folder' }] })
  await append(app, 'p1', change('a', 'update'))
  await append(app, 'p1', change('a', 'delete'))
  // Stats catch the projection up; outdatedBy is then in place.
  t.equal((await get(app, '/projects/p1/stats')).statusCode, 200)
  t.equal((await get(app, '/projects/p1/changes/1')).json().outdatedBy, 4)
  t.equal((await get(app, '/projects/p1/changes/4')).json().outdatedBy, 5)
  t.notOk('outdatedBy' in (await get(app, '/projects/p1/changes/5')).json(), 'the latest change is not outdated')
  const all = await readAll(app, 'p1')
  t.same(
    all.map(c => [c.seq, c.outdatedBy]),
    [
      [1, 4],
      [2, undefined],
      [3, undefined],
      [4, 5],
      [5, undefined]
    ]
  )
  t.same(
    (await readAll(app, 'p1', 'includeOutdated=false')).map(c => c.seq),
    [2, 3, 5]
  )
  t.same(
    (await readAll(app, 'p1', 'entityType=folder')).map(c => c.seq),
    [3]
  )
  const filtered = await page(app, 'p1', 'since=0&limit=1&entityType=folder')
  t.same([filtered.changes.map(c => c.seq), filtered.lastSeq], [[3], 3], 'lastSeq moves past what the filter skipped')
})

t.test('entities: latest change, deleted after a delete, 404 if never seen', async t => {
  const { app } = await buildTestApp(t, { env })
  await append(app, 'p1', change('a'))
  await append(app, 'p1', change('a', 'update', { data: { title: 'second' } }))
  const current = await get(app, '/projects/p1/entities/document/a')
  t.equal(current.statusCode, 200)
  t.match(current.json(), { seq: 2, operation: 'update', data: { title: 'second' }, deleted: false })
  await append(app, 'p1', change('a', 'delete'))
  t.match((await get(app, '/projects/p1/entities/document/a')).json(), { seq: 3, operation: 'delete', deleted: true })
  const missing = await get(app, '/projects/p1/entities/document/never')
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'ENTITY_NOT_FOUND')
})

t.test('stats count every change without reading the feed; unknown project 404', async t => {
  const { app } = await buildTestApp(t, { env })
  t.equal((await get(app, '/projects/p1/stats')).statusCode, 404)
  await append(app, 'p1', { changes: [change('a'), change('b'), { ...change('f'), entityType: 'folder' }] })
  await append(app, 'p1', change('a', 'update'))
  await append(app, 'p1', change('b', 'delete'))
  const stats = (await get(app, '/projects/p1/stats')).json()
  t.match(stats, {
    projectId: 'p1',
    totalChanges: 5,
    latestSeq: 5,
    byEntityType: { document: 4, folder: 1 },
    byOperation: { create: 3, update: 1, delete: 1 },
    outdatedChanges: 2
  })
  t.ok(Date.parse(stats.updatedAt) >= Date.parse(stats.createdAt))
})

t.test('GET /projects lists known projects with latestSeq, across a cursor', async t => {
  const { app } = await buildTestApp(t, { env })
  for (const [id, n] of [
    ['alpha', 1],
    ['beta', 2],
    ['gamma', 3]
  ] as const) {
    for (let i = 0; i < n; i++) await append(app, id, change(`e${i}`))
    // latestSeq is what the projection has counted, which may trail an append by a moment: stats catch it up.
    t.equal((await get(app, `/projects/${id}/stats`)).json().latestSeq, n)
  }
  const first = await get(app, '/projects?limit=2')
  t.equal(first.statusCode, 200)
  t.same(
    first.json().projects.map((p: { projectId: string; latestSeq: number }) => [p.projectId, p.latestSeq]),
    [
      ['alpha', 1],
      ['beta', 2]
    ]
  )
  const second = (await get(app, `/projects?limit=2&cursor=${first.json().cursor}`)).json()
  t.same(
    second.projects.map((p: { projectId: string }) => p.projectId),
    ['gamma']
  )
  t.equal(second.cursor, null, 'no cursor on the last page')
  t.equal((await get(app, '/projects?cursor=bm9wZQ')).statusCode, 400, 'a forged cursor is 400')
  const onlyP1 = await app.inject({ method: 'GET', url: '/projects', headers: { 'x-api-key': p1Reader.key } })
  t.equal(onlyP1.statusCode, 403, 'listing needs read access to every project')
  t.equal(
    (await app.inject({ method: 'GET', url: '/projects/p1/changes', headers: { 'x-api-key': p1Reader.key } }))
      .statusCode,
    200
  )
  t.equal(
    (await app.inject({ method: 'GET', url: '/projects/p2/changes', headers: { 'x-api-key': p1Reader.key } }))
      .statusCode,
    403
  )
})

t.test('malformed input is 400 (oversized data 413) and writes nothing', async t => {
  const { app } = await buildTestApp(t, { env })
  const big = { title: 'x'.repeat(350 * 1024) }
  const cases: Array<[string, unknown, number]> = [
    ['bad projectId', change('a'), 400],
    ['unknown operation', change('a', 'upsert'), 400],
    ['create without data', { entityType: 'document', entityId: 'a', operation: 'create' }, 400],
    ['delete with data', { ...change('a', 'delete'), data: { x: 1 } }, 400],
    ['data not an object', { ...change('a'), data: [1, 2] }, 400],
    ['unknown field', { ...change('a'), extra: true }, 400],
    ['entityId with #', change('a#b'), 400],
    ['timestamp not ISO-8601', change('a', 'create', { timestamp: 'yesterday' }), 400],
    ['empty batch', { changes: [] }, 400],
    ['101 changes', { changes: Array.from({ length: 101 }, (_, i) => change(`e${i}`)) }, 400],
    ['changeId on some changes only', { changes: [change('a', 'create', { changeId: 'c1' }), change('b')] }, 400],
    [
      'a changeId twice',
      { changes: [change('a', 'create', { changeId: 'c1' }), change('b', 'create', { changeId: 'c1' })] },
      400
    ],
    ['data over 350 KB', { changes: [change('a'), { ...change('b'), data: big }] }, 413]
  ]
  for (const [name, body, status] of cases) {
    const url = name === 'bad projectId' ? '/projects/bad%20id!/changes' : '/projects/p1/changes'
    const res = await app.inject({ method: 'POST', url, headers, payload: body as object })
    t.equal(res.statusCode, status, name)
  }
  t.equal((await get(app, '/projects/p1/changes?limit=0')).statusCode, 400, 'limit 0')
  t.equal((await get(app, '/projects/p1/changes?limit=1001')).statusCode, 400, 'limit over 1000')
  t.equal((await get(app, '/projects/p1/changes?wait=21')).statusCode, 400, 'wait over 20')
  t.same(await readAll(app, 'p1'), [], 'nothing was written')
  t.equal((await get(app, '/projects/p1/stats')).statusCode, 404)
})

t.test('wait holds the request until a change after since exists', async t => {
  const { app } = await buildTestApp(t, { env })
  await append(app, 'p1', change('a'))
  const started = Date.now()
  const waiting = page(app, 'p1', 'since=1&wait=10')
  setTimeout(() => {
    void append(app, 'p1', change('b'))
  }, 300)
  const got = await waiting
  t.same(
    got.changes.map(c => c.entityId),
    ['b']
  )
  t.ok(Date.now() - started < 9000, 'answered when the change came, not at the deadline')
  // Over a real connection too.
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const overHttp = fetch(`${address}/projects/p1/changes?since=2&wait=10`, { headers })
  setTimeout(() => {
    void append(app, 'p1', change('c'))
  }, 300)
  t.same(
    ((await (await overHttp).json()) as Page).changes.map(c => c.entityId),
    ['c'],
    'the held HTTP request gets the change'
  )
  const empty = await page(app, 'p1', 'since=3&wait=1')
  t.same(empty, { changes: [], lastSeq: 3, hasMore: false }, 'time up: an empty page')
})

t.test('guarantees 1 and 2: 8 concurrent writers × 250 changes and a tailing reader see exactly 1..2000', async t => {
  const { app } = await buildTestApp(t, { env })
  const WRITERS = 8
  const PER_WRITER = 250
  const total = WRITERS * PER_WRITER
  const assigned = new Map<number, string>()
  let writing = true

  const writerRun = async (w: number) => {
    let sent = 0
    let round = 0
    while (sent < PER_WRITER) {
      // Single changes and batches of 2 to 9, interleaved.
      const size = Math.min(PER_WRITER - sent, round % 2 === 0 ? 1 : 2 + (round % 8))
      const body =
        size === 1
          ? change(`w${w}-${sent}`)
          : { changes: Array.from({ length: size }, (_, i) => change(`w${w}-${sent + i}`)) }
      const got = await append(app, 'p1', body)
      t.same(
        got.map(c => c.seq),
        got.map((_, i) => got[0]!.seq + i),
        "one request's seqs are consecutive"
      )
      for (const c of got) {
        if (assigned.has(c.seq)) t.fail(`seq ${c.seq} given twice`)
        assigned.set(c.seq, c.entityId)
      }
      sent += size
      round++
    }
  }

  const seen: Change[] = []
  const reader = async () => {
    let since = 0
    // Reads page after page; pauses only when a page came back empty.
    await poll(
      async () => {
        for (;;) {
          const p = await page(app, 'p1', `since=${since}&limit=${1 + Math.floor(Math.random() * 60)}`)
          seen.push(...p.changes)
          since = p.lastSeq
          if (!writing && seen.length >= total) return true
          if (p.changes.length === 0) return undefined
        }
      },
      { intervalMs: 5 }
    )
  }

  const reading = reader()
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writerRun(w)))
  writing = false
  await reading

  t.equal(assigned.size, total, 'every change got a seq')
  t.same(
    [...assigned.keys()].sort((a, b) => a - b),
    Array.from({ length: total }, (_, i) => i + 1),
    'seqs are 1..2000: no gap, no duplicate'
  )
  t.same(
    seen.map(c => c.seq),
    Array.from({ length: total }, (_, i) => i + 1),
    'the tailing reader saw each seq once, in order'
  )
  t.ok(
    seen.every(c => assigned.get(c.seq) === c.entityId),
    'and each is the change that seq was given to'
  )

  // Derived data converges: stats, entity pointers and outdatedBy.
  let stats:
    | {
        totalChanges: number
        latestSeq: number
        projectedSeq: number
        byOperation: Record<string, number>
        outdatedChanges: number
      }
    | undefined
  for (let i = 0; i < 100; i++) {
    stats = (await get(app, '/projects/p1/stats')).json()
    if (stats!.projectedSeq === total) break
  }
  t.match(stats, {
    totalChanges: total,
    latestSeq: total,
    projectedSeq: total,
    byOperation: { create: total },
    outdatedChanges: 0
  })
})

t.test('guarantee 3: retrying with the same changeIds returns the first seqs and writes nothing', async t => {
  const { app } = await buildTestApp(t, { env })
  await append(app, 'p1', change('before'))
  const request = { changes: [change('a', 'create', { changeId: 'r-1' }), change('b', 'create', { changeId: 'r-2' })] }
  const first = await append(app, 'p1', request)
  await append(app, 'p1', change('between'))
  const retry = await append(app, 'p1', request)
  t.same(
    retry.map(c => c.seq),
    first.map(c => c.seq)
  )
  const withoutFlag = (changes: Change[]) => changes.map(({ duplicate: _, ...c }) => c)
  t.same(withoutFlag(retry), withoutFlag(first), 'the same answer')
  t.same(
    [first.map(c => c.duplicate), retry.map(c => c.duplicate)],
    [
      [false, false],
      [true, true]
    ],
    'each change says whether it was appended now'
  )
  // Retries racing each other and a writer without changeIds.
  const racing = { changes: [change('c', 'create', { changeId: 'r-3' })] }
  const results = await Promise.all([
    ...Array.from({ length: 6 }, () => append(app, 'p1', racing)),
    append(app, 'p1', change('d'))
  ])
  const raced = results.slice(0, 6).map(r => r[0]!.seq)
  t.equal(new Set(raced).size, 1, 'every racing retry got one seq')
  const all = await readAll(app, 'p1')
  t.same(
    all.map(c => c.seq),
    [1, 2, 3, 4, 5, 6]
  )
  t.equal(all.filter(c => c.changeId === 'r-1').length, 1, 'r-1 is in the feed once')
  t.equal(all.filter(c => c.changeId === 'r-3').length, 1, 'r-3 is in the feed once')

  const reused = await app.inject({
    method: 'POST',
    url: '/projects/p1/changes',
    headers,
    payload: { changes: [change('other', 'create', { changeId: 'r-1' }), change('b', 'create', { changeId: 'r-2' })] }
  })
  t.equal(reused.statusCode, 409, 'the same changeIds with other changes')
  t.equal(reused.json().code, 'CHANGE_ID_REUSED')
  t.equal((await readAll(app, 'p1')).length, 6, 'nothing new written')
})

t.test('guarantee 4: projects are isolated under concurrent writers', async t => {
  const { app } = await buildTestApp(t, { env })
  const run = (projectId: string) =>
    Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; i < 25; i++) await append(app, projectId, change(`w${w}-${i}`))
      })
    )
  await Promise.all([run('left'), run('right')])
  for (const projectId of ['left', 'right']) {
    const all = await readAll(app, projectId)
    t.same(
      all.map(c => c.seq),
      Array.from({ length: 100 }, (_, i) => i + 1),
      `${projectId} has 1..100`
    )
    t.ok(
      all.every(c => c.projectId === projectId),
      `${projectId} holds only its own changes`
    )
  }
})

t.test('through HTTP: a regrouped retry appends only what had not landed, and says which is which', async t => {
  const { app } = await buildTestApp(t, { env })
  const c = (i: number) => change(`e${i}`, 'create', { changeId: `c${i}` })
  await append(app, 'p1', { changes: [c(1), c(2), c(3)] })
  const regrouped = await append(app, 'p1', { changes: [c(4), c(2), c(5)] })
  t.same(
    regrouped.map(ch => [ch.changeId, ch.seq, ch.duplicate]),
    [
      ['c4', 4, false],
      ['c2', 2, true],
      ['c5', 5, false]
    ]
  )
  const reused = await app.inject({
    method: 'POST',
    url: '/projects/p1/changes',
    headers,
    payload: { changes: [c(6), { ...c(3), data: { title: 'other' } }] }
  })
  t.same([reused.statusCode, reused.json().code], [409, 'CHANGE_ID_REUSED'])
  t.same(
    (await readAll(app, 'p1')).map(ch => ch.changeId),
    ['c1', 'c2', 'c3', 'c4', 'c5']
  )
})

t.test('the projection runs in the background after the append answers; caught up, reads write nothing', async t => {
  const { app, config, clients } = await buildTestApp(t, { env })
  await append(app, 'p1', change('a'))
  await append(app, 'p1', { changes: [change('a', 'update'), change('b')] })
  await app.projectsRepository.idle()
  const meta = await clients.dynamodb.send(
    new GetItemCommand({
      TableName: config.tables.projects,
      Key: { pk: { S: 'P#p1' }, sk: { S: 'META' } },
      ConsistentRead: true
    })
  )
  t.equal(meta.Item?.projectedSeq?.N, '3', 'projected with no read asking for it')
  t.equal((await page(app, 'p1', 'since=0')).changes[0]!.outdatedBy, 2, 'and the feed shows outdatedBy')

  const failure = failWritesAfter(app.aws.dynamodb, 0)
  try {
    t.match((await get(app, '/projects/p1/stats')).json(), { totalChanges: 3, latestSeq: 3, outdatedChanges: 1 })
    t.match((await get(app, '/projects/p1/entities/document/a')).json(), { seq: 2 })
    t.same(
      (await readAll(app, 'p1', 'includeOutdated=false')).map(ch => ch.seq),
      [2, 3]
    )
  } finally {
    failure.restore()
  }
  t.equal(failure.writes, 0, 'stats, entities and includeOutdated=false wrote nothing')
})

t.test('a projection that fails after the batch landed does not fail the append', async t => {
  const { app } = await buildTestApp(t, { env })
  await append(app, 'p1', change('a'))
  await app.projectsRepository.idle()
  // The batch put goes through; every write after it (receipts, the projection) fails.
  const failure = failWritesAfter(app.aws.dynamodb, 1)
  let appended: Change[]
  try {
    appended = await append(app, 'p1', change('a', 'update', { changeId: 'x-1' }))
    await app.projectsRepository.idle()
  } finally {
    failure.restore()
  }
  t.match(appended, [{ seq: 2, changeId: 'x-1', duplicate: false }], '201 for the write that happened')
  t.match(await append(app, 'p1', change('a', 'update', { changeId: 'x-1' })), [{ seq: 2, duplicate: true }])
  t.match((await get(app, '/projects/p1/stats')).json(), { totalChanges: 2, latestSeq: 2, outdatedChanges: 1 })
})
