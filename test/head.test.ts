/**
 * HEAD is served where a GET route asks for it (`exposeHeadRoute`): the
 * status and headers of the GET, without its body. Elsewhere it is the app's
 * own 404.
 */
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { generateApiKey } from '../src/auth/api-keys.ts'
import { buildTestApp, datasetBody, injectAs } from './helper.ts'

const key = generateApiKey('head-probe', ['users:read', 'users:write'])

t.test('HEAD /health, /data/{keyId} and /users/{userId}: the GET’s status and headers, no body', async t => {
  const { app } = await buildTestApp(t, { env: { API_KEYS: JSON.stringify([key.entry]) } })

  const health = await app.inject({ method: 'HEAD', url: '/health' })
  t.equal(health.statusCode, 200)
  t.equal(health.body, '')

  const created = await app.inject({ method: 'POST', url: '/data', payload: datasetBody() })
  t.equal(created.statusCode, 201)
  const { keyId } = created.json()
  const data = await app.inject({ method: 'HEAD', url: `/data/${keyId}` })
  t.equal(data.statusCode, 200)
  t.equal(data.headers.etag, '"1"', 'the current version, without reading the payload')
  t.equal(data.body, '')
  t.equal((await app.inject({ method: 'HEAD', url: `/data/${randomUUID()}` })).statusCode, 404)

  const as = injectAs(app, key.key)
  const user = await as.post('/users', { email: `${randomUUID()}@example.com`, name: 'Grace Hopper' })
  t.equal(user.statusCode, 201)
  const head = await app.inject({
    method: 'HEAD',
    url: `/users/${user.json().userId}`,
    headers: { 'x-api-key': key.key }
  })
  t.equal(head.statusCode, 200)
  t.equal(head.headers.etag, '"1"')
  t.equal(head.body, '')
  const anonymous = await app.inject({ method: 'HEAD', url: `/users/${user.json().userId}` })
  t.equal(anonymous.statusCode, 401, 'HEAD asks for the same credential as GET')
})

t.test('HEAD on a GET route that does not ask for it is a 404', async t => {
  const { app } = await buildTestApp(t)
  const { keyId } = (await app.inject({ method: 'POST', url: '/data', payload: datasetBody() })).json()
  const url = `/data/${keyId}/versions`
  t.equal((await app.inject({ method: 'HEAD', url })).statusCode, 404)
  t.equal((await app.inject({ method: 'GET', url })).statusCode, 200, 'while GET answers')
})
