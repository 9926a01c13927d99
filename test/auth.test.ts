import { createServer, type AddressInfo } from 'node:net'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import t from 'tap'
import { buildApp } from '../src/app.ts'
import { generateApiKey } from '../src/auth/api-keys.ts'
import { createJwtVerifier } from '../src/auth/jwt.ts'
import { projectScope } from '../src/auth/scopes.ts'
import { buildTestApp, datasetBody, testConfig, type TestTap } from './helper.ts'
import { startIdentityProvider } from './fixtures/jwt.ts'

const full = generateApiKey('full', ['*'])
const usersReader = generateApiKey('users-reader', ['users:read'])
const projectOne = generateApiKey('project-p1', ['projects:p1:*'])
const unrelated = generateApiKey('unrelated', ['reports:read'])
const API_KEYS = JSON.stringify([full, usersReader, projectOne, unrelated].map(k => k.entry))

/** Stand-ins for the protected routes the resource groups add, declared the same way. */
const probeRoutes: FastifyPluginAsync = async app => {
  const ok = async () => ({ ok: true })
  app.get('/probe/users', { config: { auth: { scopes: ['users:read'] } } }, ok)
  app.post('/probe/users', { config: { auth: { scopes: ['users:write'] } } }, ok)
  app.get<{ Params: { projectId: string } }>(
    '/probe/projects/:projectId',
    {
      config: { auth: { scopes: request => projectScope((request.params as { projectId: string }).projectId, 'read') } }
    },
    ok
  )
}

const urlOf = (url: string) =>
  url.replace(/:(\w+)/g, (_, name) => (name === 'projectId' ? 'p1' : '00000000-0000-4000-8000-000000000000'))

async function appWithKeys(t: TestTap, env: NodeJS.ProcessEnv = {}) {
  return (await buildTestApp(t, { env: { API_KEYS, ...env }, extraRoutes: [probeRoutes] })).app
}

t.test(
  'every protected route: 401 without or with a wrong credential, 403 without the scope, success with it',
  async t => {
    const app = await appWithKeys(t)
    t.ok(app.protectedRoutes.length >= 3, 'the protected routes are known')
    for (const { method, url } of app.protectedRoutes) {
      const name = `${method} ${url}`
      const inject = (headers: Record<string, string>) =>
        app.inject({ method: method as 'GET', url: urlOf(url), headers })

      const none = await inject({})
      t.equal(none.statusCode, 401, `${name}: no credential`)
      const hasBody = method !== 'HEAD'
      if (hasBody) t.equal(none.json().code, 'UNAUTHENTICATED')
      t.match(none.headers['www-authenticate'], /^Bearer realm=/)

      const wrong = await inject({ 'x-api-key': 'atk_not-a-key' })
      t.equal(wrong.statusCode, 401, `${name}: wrong key`)
      t.match(wrong.headers['www-authenticate'], /invalid_token/)
      t.notMatch(wrong.body, /atk_not-a-key/, 'the key is not echoed')

      const forbidden = await inject({ authorization: `Bearer ${unrelated.key}` })
      t.equal(forbidden.statusCode, 403, `${name}: key without the scope`)
      if (hasBody) t.equal(forbidden.json().code, 'FORBIDDEN')

      const goodHeaders: Array<Record<string, string>> = [
        { 'x-api-key': full.key },
        { authorization: `Bearer ${full.key}` }
      ]
      for (const headers of goodHeaders) {
        const allowed = await inject(headers)
        t.notOk([401, 403].includes(allowed.statusCode), `${name}: the right key passes (${Object.keys(headers)[0]})`)
      }
    }
  }
)

t.test('scopes are matched exactly, with wildcards', async t => {
  const app = await appWithKeys(t)
  const get = (url: string, key: string) => app.inject({ method: 'GET', url, headers: { 'x-api-key': key } })
  t.equal((await get('/probe/users', usersReader.key)).statusCode, 200)
  t.equal(
    (await app.inject({ method: 'POST', url: '/probe/users', headers: { 'x-api-key': usersReader.key } })).statusCode,
    403,
    'read is not write'
  )
  t.equal((await get('/probe/projects/p1', projectOne.key)).statusCode, 200, 'a project key reaches its project')
  t.equal((await get('/probe/projects/p2', projectOne.key)).statusCode, 403, 'and no other')
  const smuggled = await get('/probe/projects/p1:x', projectOne.key)
  t.equal(smuggled.statusCode, 400, 'a project id cannot smuggle in scope segments: it is no valid id')
  t.equal(smuggled.json().code, 'INVALID_RESOURCE_ID')
  t.equal((await get('/probe/projects/*', projectOne.key)).statusCode, 400)
  t.equal((await get('/probe/users', projectOne.key)).statusCode, 403)
})

t.test('a malformed Authorization header is 401', async t => {
  const app = await appWithKeys(t)
  const res = await app.inject({
    method: 'GET',
    url: '/probe/users',
    headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }
  })
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'INVALID_CREDENTIALS')
})

t.test('public routes need no credential', async t => {
  const app = await appWithKeys(t)
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/docs/json' })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/data', payload: datasetBody() })).statusCode, 201)
})

t.test('a route added without an auth declaration makes buildApp throw', async t => {
  const config = await testConfig()
  const undeclared: FastifyPluginAsync = async app => {
    app.get('/forgotten', async () => ({ open: true }))
  }
  await t.rejects(buildApp(config, { extraRoutes: [undeclared] }), /GET \/forgotten declares no auth requirement/)
})

t.test('JWTs from the configured issuer', async t => {
  const idp = await startIdentityProvider(t)
  const app = await appWithKeys(t, { JWT_ISSUER: idp.issuer, JWT_AUDIENCE: 'atlas-api', JWT_JWKS_URL: idp.jwksUrl })
  const now = Math.floor(Date.now() / 1000)
  const claims = {
    iss: idp.issuer,
    aud: 'atlas-api',
    sub: 'user-1',
    iat: now,
    exp: now + 300,
    scope: 'openid users:read'
  }
  const call = (token: string) =>
    app.inject({ method: 'GET', url: '/probe/users', headers: { authorization: `Bearer ${token}` } })

  t.equal((await call(idp.sign(claims))).statusCode, 200, 'valid')
  t.equal(
    (await call(idp.sign({ ...claims, scope: undefined, 'cognito:groups': ['users:read'] }))).statusCode,
    200,
    'scopes from cognito:groups'
  )
  t.equal((await call(idp.sign({ ...claims, scope: 'openid' }))).statusCode, 403, 'valid but without the scope')

  const refused: Array<[string, string]> = [
    ['expired', idp.sign({ ...claims, iat: now - 600, exp: now - 300 })],
    ['wrong audience', idp.sign({ ...claims, aud: 'another-api' })],
    ['wrong issuer', idp.sign({ ...claims, iss: 'https://issuer.example' })],
    ['signed by another key', idp.sign(claims, idp.otherKey)],
    [
      'tampered',
      (() => {
        const [header, , signature] = idp.sign(claims).split('.')
        const payload = Buffer.from(JSON.stringify({ ...claims, scope: 'users:read users:write' })).toString(
          'base64url'
        )
        return `${header}.${payload}.${signature}`
      })()
    ],
    ['not yet valid', idp.sign({ ...claims, nbf: now + 600 })]
  ]
  for (const [name, token] of refused) {
    const res = await call(token)
    t.equal(res.statusCode, 401, name)
    t.equal(res.json().code, 'INVALID_CREDENTIALS', name)
  }
})

t.test("an issuer whose keys cannot be fetched is 503, and the network's error is kept as its cause", async t => {
  const idp = await startIdentityProvider(t)
  // A port just closed: a real refused connection (fetch will not even try port 1).
  const closed = createServer()
  await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', resolve))
  const { port } = closed.address() as AddressInfo
  await new Promise(resolve => closed.close(resolve))
  const jwt = { issuer: idp.issuer, audience: ['atlas-api'], jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json` }
  const now = Math.floor(Date.now() / 1000)
  const token = idp.sign({ iss: idp.issuer, aud: 'atlas-api', sub: 'user-1', iat: now, exp: now + 300 })
  const outcome = await createJwtVerifier(jwt)(token)
  t.match(outcome, { ok: false, reason: 'unavailable' })
  const causes: unknown[] = []
  for (let err = (outcome as { cause?: unknown }).cause; err instanceof Error; err = err.cause) causes.push(err)
  t.ok(causes.length >= 2, 'the fetch failure is under the JWKS error')
  t.ok(
    causes.some(err => (err as { code?: string }).code === 'ECONNREFUSED'),
    'down to the refused connection'
  )
  const app = await appWithKeys(t, { JWT_ISSUER: idp.issuer, JWT_AUDIENCE: 'atlas-api', JWT_JWKS_URL: jwt.jwksUrl })
  const res = await app.inject({ method: 'GET', url: '/probe/users', headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'DEPENDENCY_UNAVAILABLE')
})

t.test('rate limits: per credential, else per IP, with 429 and Retry-After', async t => {
  const app = await appWithKeys(t, { RATE_LIMIT_MAX: '3' })
  const get = (headers: Record<string, string> = {}) => app.inject({ method: 'GET', url: '/probe/users', headers })

  for (let i = 0; i < 3; i++) t.equal((await get({ 'x-api-key': full.key })).statusCode, 200)
  const limited = await get({ 'x-api-key': full.key })
  t.equal(limited.statusCode, 429, 'the N+1th request in the window')
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After')
  t.match(limited.json(), { statusCode: 429, code: 'RATE_LIMITED' })

  t.equal((await get({ 'x-api-key': usersReader.key })).statusCode, 200, 'another credential has its own window')

  for (let i = 0; i < 3; i++) t.equal((await get({ 'x-api-key': 'atk_guess' + i })).statusCode, 401)
  t.equal((await get({ 'x-api-key': 'atk_guess4' })).statusCode, 429, 'guessing keys is limited per IP')

  const data = await buildTestApp(t, { env: { RATE_LIMIT_MAX: '2' } })
  for (let i = 0; i < 2; i++)
    t.equal(
      (await data.app.inject({ method: 'GET', url: '/data/00000000-0000-4000-8000-000000000000' })).statusCode,
      404
    )
  t.equal(
    (await data.app.inject({ method: 'GET', url: '/data/00000000-0000-4000-8000-000000000000' })).statusCode,
    429,
    '/data is open but limited'
  )
})

t.test('keys and tokens never reach the logs', async t => {
  const lines: string[] = []
  const config = await testConfig({ API_KEYS, LOG_LEVEL: 'trace' })
  const app: FastifyInstance = await buildApp(config, {
    extraRoutes: [probeRoutes],
    logStream: {
      write: line => {
        lines.push(line)
      }
    }
  })
  t.teardown(() => app.close())
  await app.inject({ method: 'GET', url: '/probe/users', headers: { 'x-api-key': full.key } })
  await app.inject({ method: 'GET', url: '/probe/users', headers: { authorization: `Bearer ${usersReader.key}` } })
  await app.inject({ method: 'GET', url: '/probe/users', headers: { 'x-api-key': 'atk_wrong-secret-guess' } })
  const logs = lines.join('')
  t.ok(logs.length > 0, 'something was logged')
  for (const secret of [full.key, usersReader.key, 'atk_wrong-secret-guess'])
    t.notOk(logs.includes(secret), 'no key in the logs')
})

t.test('security headers: an API profile for JSON, the docs UI keeps its own policy', async t => {
  const app = await appWithKeys(t)
  const api = await app.inject({ method: 'GET', url: '/health' })
  t.match(api.headers['content-security-policy'], /default-src 'none'/)
  t.equal(api.headers['x-content-type-options'], 'nosniff')
  t.match(api.headers['strict-transport-security'], /max-age=31536000/)
  const docs = await app.inject({ method: 'GET', url: '/docs/static/index.html' })
  const page = docs.statusCode === 302 ? await app.inject({ method: 'GET', url: '/docs' }) : docs
  t.match(page.headers['content-security-policy'], /script-src 'self'/, 'the UI can run its scripts')
})

t.test("OpenAPI declares both security schemes and each route's requirement", async t => {
  const app = await appWithKeys(t)
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
  t.same(Object.keys(doc.components.securitySchemes).sort(), ['apiKey', 'bearerAuth'])
  t.same(doc.paths['/probe/users'].get.security, [{ apiKey: [] }, { bearerAuth: [] }])
  t.ok(doc.paths['/probe/users'].get.responses['401'] && doc.paths['/probe/users'].get.responses['403'])
  t.match(doc.paths['/probe/users'].get.description, /users:read/)
  t.same(doc.paths['/health'].get.security, [])
  t.same(doc.paths['/data'].post.security, [])
})
