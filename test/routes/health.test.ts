import { createServer, type Socket } from 'node:net'
import t, { type Test as Tap } from 'tap'
import { buildApp } from '../../src/app.ts'
import { buckets, tables } from '../../src/core/tables.ts'
import type { Config } from '../../src/config/config.ts'
import { buildTestApp, testConfig } from '../helper.ts'

const every = (defs: Record<string, unknown>, status: string) =>
  Object.fromEntries(Object.keys(defs).map(key => [key, status]))

t.test('GET /health answers status, version and uptime', async t => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.equal(body.status, 'ok')
  t.match(body.version, /^\d+\.\d+\.\d+/)
  t.type(body.uptime, 'number')
  t.notOk('checks' in body, 'a shallow check touches no dependency')
})

t.test('GET /health?deep=1 checks every table and bucket of src/core/tables.ts', async t => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: '/health?deep=1' })
  t.equal(res.statusCode, 200)
  t.same(res.json().checks, {
    dynamodb: 'ok',
    s3: 'ok',
    tables: every(tables, 'ok'),
    buckets: every(buckets, 'ok')
  })
})

/** A degraded deep check on an app whose config `change` breaks: asserts the 503 and returns its checks. */
async function degradedChecks(t: Tap, change: (config: Config) => Config): Promise<Record<string, unknown>> {
  const app = await buildApp(change(await testConfig()))
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/health?deep=1' })
  t.equal(res.statusCode, 503)
  t.ok(Number(res.headers['retry-after']) > 0, 'with Retry-After')
  t.match(
    res.json(),
    { statusCode: 503, error: 'Service Unavailable', code: 'DEPENDENCY_UNAVAILABLE', status: 'degraded' },
    'an error like every 503, with the health fields beside'
  )
  t.type(res.json().uptime, 'number')
  return res.json().checks
}

const degradations: Array<{ name: string; change: (config: Config) => Config; checks: object }> = [
  {
    name: 'GET /health?deep=1 names the one table that is missing',
    change: config => ({ ...config, tables: { ...config.tables, users: 'no-such-table' } }),
    checks: {
      dynamodb: 'unavailable',
      s3: 'ok',
      tables: { ...every(tables, 'ok'), users: 'unavailable' },
      buckets: every(buckets, 'ok')
    }
  },
  {
    // Nothing listens on port 1: the engine is really unreachable, no mock involved.
    name: 'GET /health?deep=1 answers 503 with Retry-After when S3 is unreachable',
    change: config => ({ ...config, endpoints: { ...config.endpoints, s3: 'http://127.0.0.1:1' } }),
    checks: { dynamodb: 'ok', s3: 'unavailable', tables: every(tables, 'ok'), buckets: every(buckets, 'unavailable') }
  }
]
for (const { name, change, checks } of degradations) {
  t.test(name, async t => t.same(await degradedChecks(t, change), checks))
}

t.test('GET /health?deep=1 probes everything at once and gives up on an engine that never answers', async t => {
  // An engine that takes every connection and never answers: each probe must time out on its own.
  let open = 0
  let mostOpen = 0
  const sockets = new Set<Socket>()
  const silent = createServer(socket => {
    sockets.add(socket)
    mostOpen = Math.max(mostOpen, ++open)
    socket.on('close', () => {
      open--
      sockets.delete(socket)
    })
    socket.on('error', () => {})
  })
  await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    silent.close()
  })
  const { port } = silent.address() as { port: number }
  const endpoint = `http://127.0.0.1:${port}`
  const checks = await degradedChecks(t, config => ({
    ...config,
    endpoints: { ...config.endpoints, dynamodb: endpoint, s3: endpoint }
  }))
  t.same(checks, {
    dynamodb: 'unavailable',
    s3: 'unavailable',
    tables: every(tables, 'unavailable'),
    buckets: every(buckets, 'unavailable')
  })
  const probes = Object.keys(tables).length + Object.keys(buckets).length
  t.equal(mostOpen, probes, `all ${probes} probes were waiting at the same time`)
})
