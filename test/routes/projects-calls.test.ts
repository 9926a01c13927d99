/**
 * What each /projects request costs in DynamoDB calls, counted by a middleware
 * on the app's real client, one request at a time in steady state. The
 * projection's calls happen after the response, in the background, and are
 * not the request's. npm run bench prints the same counts.
 */
import t from 'tap'
import { generateApiKey } from '../../src/auth/api-keys.ts'
import { countCalls, describeCalls, totalOf, type Calls } from '../../scripts/lib/counting-dynamodb.ts'
import { buildTestApp, injectAs } from '../helper.ts'

const writer = generateApiKey('projects-all', ['projects:*:*'])
const env = { API_KEYS: JSON.stringify([writer.entry]), RATE_LIMIT_MAX: '1000000' }

let n = 0

t.test('DynamoDB calls on the request path', async t => {
  const { app } = await buildTestApp(t, { env })
  const counter = countCalls(app.aws.dynamodb)
  const as = injectAs(app, writer.key)
  const send = async (method: 'GET' | 'POST', url: string, body?: unknown): Promise<Calls> => {
    const { result, calls } = await counter.during(() => (method === 'GET' ? as.get(url) : as.post(url, body)))
    t.ok(result.statusCode < 300, `${method} ${url} -> ${result.statusCode}`)
    return calls
  }
  const change = (withId: boolean) => ({
    entityType: 'document',
    entityId: `e${n % 7}`,
    operation: 'update',
    data: { title: 'a title' },
    ...(withId ? { changeId: `c${n++}` } : {})
  })
  const batch = (size: number, withIds: boolean) => ({ changes: Array.from({ length: size }, () => change(withIds)) })
  const atMost = (calls: Calls, limit: number, what: string) =>
    t.ok(totalOf(calls) <= limit, `${what}: ${describeCalls(calls)}, at most ${limit}`)

  for (const [what, body, limit] of [
    ['append 1 change', () => change(false), 3],
    ['append 1 change with a changeId', () => change(true), 4],
    ['append 100 changes', () => batch(100, false), 8],
    ['append 100 changes with changeIds', () => batch(100, true), 8]
  ] as const) {
    const projectId = what.replace(/\W+/g, '-')
    await send('POST', `/projects/${projectId}/changes`, body()) // the project's first append also registers it
    for (let i = 0; i < 3; i++) atMost(await send('POST', `/projects/${projectId}/changes`, body()), limit, what)
  }

  const project = '/projects/append-100-changes'
  await app.projectsRepository.idle()
  await send('GET', `${project}/stats`)
  t.same(Object.fromEntries(await send('GET', `${project}/stats`)), { Query: 1 }, 'stats, caught up: one read')
  for (const since of [0, 100, 200])
    t.same(
      Object.fromEntries(await send('GET', `${project}/changes?since=${since}&limit=100`)),
      { Query: 1 },
      `GET changes?since=${since}&limit=100: one Query`
    )
  t.ok(totalOf(counter.background) > 0, 'the projection ran, in the background')
})

t.test('the projection of one batch of 100 changes to 100 entities: about one write per entity', async t => {
  const { app } = await buildTestApp(t, { env })
  const counter = countCalls(app.aws.dynamodb)
  const as = injectAs(app, writer.key)
  const batch = (v: number) => ({
    changes: Array.from({ length: 100 }, (_, i) => ({
      entityType: 'document',
      entityId: `e${i}`,
      operation: 'update',
      data: { v }
    }))
  })
  // Steady state: the project and its 100 entities exist, so every change also outdates one.
  await as.post('/projects/wide/changes', batch(0))
  await app.projectsRepository.idle()
  const before = totalOf(counter.background)
  const { result, calls } = await counter.during(() => as.post('/projects/wide/changes', batch(1)))
  t.equal(result.statusCode, 201)
  await app.projectsRepository.idle()
  const background = totalOf(counter.background) - before
  const perChange = (totalOf(calls) + background) / 100
  t.ok(
    perChange <= 1.3,
    `${totalOf(calls)} calls on the request path, ${background} in the background: ${perChange} a change`
  )
  t.match((await as.get('/projects/wide/stats')).json(), { totalChanges: 200, projectedSeq: 200, outdatedChanges: 100 })
})
