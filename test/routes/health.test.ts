import t from 'tap'
import { buildApp } from '../../src/app.ts'
import { buildTestApp, testConfig } from '../helper.ts'

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

t.test('GET /health?deep=1 checks DynamoDB and S3', async t => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: '/health?deep=1' })
  t.equal(res.statusCode, 200)
  t.same(res.json().checks, { dynamodb: 'ok', s3: 'ok' })
})

t.test('GET /health?deep=1 answers 503 with Retry-After when a dependency is unreachable', async t => {
  const config = await testConfig()
  // Nothing listens on port 1: the engine is really unreachable, no mock involved.
  const app = await buildApp({ ...config, endpoints: { ...config.endpoints, s3: 'http://127.0.0.1:1' } })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/health?deep=1' })
  t.equal(res.statusCode, 503)
  t.ok(Number(res.headers['retry-after']) > 0)
  t.same(res.json().checks, { dynamodb: 'ok', s3: 'unavailable' })
  t.equal(res.json().status, 'degraded')
})
