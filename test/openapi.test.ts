import SwaggerParser from '@apidevtools/swagger-parser'
import t from 'tap'
import { generateApiKey } from '../src/auth/api-keys.ts'
import { buildTestApp } from './helper.ts'

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const

interface Operation {
  tags?: string[]
  summary?: string
  parameters?: Array<{ in: string; name: string; required?: boolean; schema?: { default?: unknown } }>
  requestBody?: unknown
  responses?: Record<string, { content?: unknown }>
}

t.test('/docs/json is a valid OpenAPI 3 document covering every route', async t => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: '/docs/json' })
  t.equal(res.statusCode, 200)
  const doc = res.json()
  t.match(doc.openapi, /^3\./)
  await t.resolves(SwaggerParser.validate(structuredClone(doc)), 'the document validates')

  const declaredTags = new Set(
    (doc.tags as Array<{ name: string; description?: string }>).filter(tag => tag.description).map(tag => tag.name)
  )
  const documented = new Set<string>()
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Operation>>)) {
    for (const method of METHODS) {
      const op = item[method]
      if (op === undefined) continue
      const name = `${method.toUpperCase()} ${path}`
      documented.add(name)
      t.ok(op.tags?.length, `${name} has tags`)
      for (const tag of op.tags ?? [])
        t.ok(declaredTags.has(tag), `${name}: its tag ${tag} is declared, with a description`)
      t.ok(op.summary, `${name} has a summary`)
      const statuses = Object.keys(op.responses ?? {})
      t.ok(
        statuses.some(s => s.startsWith('2')),
        `${name} documents its success`
      )
      t.ok(
        ['429', '500', '503'].every(s => statuses.includes(s)),
        `${name} documents 429, 500 and 503`
      )
      for (const param of path.match(/\{(\w+)\}/g) ?? []) {
        t.ok(
          op.parameters?.some(p => p.in === 'path' && `{${p.name}}` === param),
          `${name} documents ${param}`
        )
      }
      if (method === 'post' || method === 'put' || method === 'patch')
        t.ok(op.requestBody, `${name} documents its body`)
    }
  }

  // Every route the app serves, except the docs themselves, is in the document.
  const served = app.printRoutes({ commonPrefix: false })
  for (const route of [
    'POST /data',
    'GET /data/{keyId}',
    'PUT /data/{keyId}',
    'DELETE /data/{keyId}',
    'GET /data/{keyId}/versions',
    'GET /data/{keyId}/versions/{version}',
    'GET /health'
  ]) {
    t.ok(documented.has(route), `${route} is documented`)
  }
  t.ok(served.length > 0)
})

t.test('a query parameter with a default is optional in the document', async t => {
  const { app } = await buildTestApp(t)
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
  const paths = doc.paths as Record<string, Record<string, Operation>>
  const optional = (path: string, name: string) =>
    paths[path]?.get?.parameters?.find(p => p.in === 'query' && p.name === name)
  // The ones a client generator made every caller spell out.
  for (const [path, names] of [
    ['/projects/{projectId}/changes', ['since', 'limit', 'includeOutdated', 'wait']],
    ['/projects', ['limit']],
    ['/assets', ['limit']],
    ['/users', ['order', 'limit']]
  ] as const) {
    for (const name of names) {
      const param = optional(path, name)
      t.not(param?.schema?.default, undefined, `GET ${path} ${name} has a default`)
      t.equal(param?.required, false, `GET ${path} ${name} is optional`)
    }
  }
  for (const [path, item] of Object.entries(paths))
    for (const [method, op] of Object.entries(item))
      for (const param of op.parameters ?? []) {
        if (param.in === 'path') t.equal(param.required, true, `${method} ${path} {${param.name}} is required`)
        else if (param.schema?.default !== undefined)
          t.equal(param.required, false, `${method} ${path} ${param.name} has a default, so it is optional`)
      }
})

t.test('/docs serves the UI', async t => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: '/docs' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/html/)
  t.match(res.body, /swagger-ui/i)
  const init = await app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' })
  t.equal(init.statusCode, 200)
})

t.test('DOCS_ACCESS=off: nothing under /docs is served, every other route is', async t => {
  const { app } = await buildTestApp(t, { env: { DOCS_ACCESS: 'off' } })
  for (const url of ['/docs', '/docs/json', '/docs/yaml', '/docs/static/swagger-initializer.js']) {
    const res = await app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 404, `${url} is 404`)
    t.equal(res.json().code, 'ROUTE_NOT_FOUND')
  }
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200)
  t.ok(app.swagger().paths?.['/health'], 'the document is still built (dist/openapi.json)')
})

t.test('DOCS_ACCESS=<scope>: /docs and /docs/json need a credential with that scope', async t => {
  const reader = generateApiKey('reader', ['docs:read'])
  const other = generateApiKey('other', ['users:read'])
  const { app } = await buildTestApp(t, {
    env: { DOCS_ACCESS: 'docs:read', API_KEYS: JSON.stringify([reader.entry, other.entry]) }
  })
  for (const url of ['/docs', '/docs/json', '/docs/static/swagger-initializer.js']) {
    const anonymous = await app.inject({ method: 'GET', url })
    t.equal(anonymous.statusCode, 401, `${url} without a credential is 401`)
    t.equal(anonymous.json().code, 'UNAUTHENTICATED')
    const refused = await app.inject({ method: 'GET', url, headers: { 'x-api-key': other.key } })
    t.equal(refused.statusCode, 403, `${url} without the scope is 403`)
    const allowed = await app.inject({ method: 'GET', url, headers: { 'x-api-key': reader.key } })
    t.equal(allowed.statusCode, 200, `${url} with docs:read is 200`)
  }
  const doc = await app.inject({ method: 'GET', url: '/docs/json', headers: { authorization: `Bearer ${reader.key}` } })
  t.ok(doc.json().paths['/health'], 'the same document')
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200, '/health stays public')
})

t.test('/docs from a prebuilt document (the Lambda bundle) answers as the docs built from the routes', async t => {
  const { app: live } = await buildTestApp(t)
  await live.ready()
  const document = live.swagger()
  let reads = 0
  const { app: prebuilt } = await buildTestApp(t, {
    docsDocument: async () => {
      reads++
      return document
    }
  })
  await prebuilt.ready()
  t.equal(reads, 0, 'nothing is read or loaded until /docs is asked for')
  const paths = [
    '/docs',
    '/docs/',
    '/docs/json',
    '/docs/yaml',
    '/docs/uiConfig',
    '/docs/initOAuth',
    '/docs/static/index.html',
    '/docs/static/swagger-initializer.js',
    '/docs/static/swagger-ui.css',
    '/docs/static/nothing-here.js',
    '/docs/elsewhere?x=1'
  ]
  const comparable = (headers: Record<string, unknown>) => {
    const { date: _date, 'x-request-id': _id, ...rest } = headers
    return rest
  }
  for (const url of paths) {
    const [a, b] = await Promise.all([live, prebuilt].map(app => app.inject({ method: 'GET', url })))
    t.equal(b!.statusCode, a!.statusCode, `GET ${url}: same status (${a!.statusCode})`)
    t.same(comparable(b!.headers), comparable(a!.headers), `GET ${url}: same headers`)
    t.ok(b!.rawPayload.equals(a!.rawPayload), `GET ${url}: same body`)
  }
  t.equal(reads, 1, 'the document is read once')
  t.equal(prebuilt.hasDecorator('swagger'), false, 'the routes are not walked into a document')
})

t.test('/docs from a prebuilt document honours DOCS_ACCESS as the docs built from the routes do', async t => {
  const { app: live } = await buildTestApp(t)
  await live.ready()
  const document = live.swagger()
  const { app: off } = await buildTestApp(t, { env: { DOCS_ACCESS: 'off' }, docsDocument: async () => document })
  for (const url of ['/docs', '/docs/json', '/docs/static/swagger-initializer.js']) {
    const res = await off.inject({ method: 'GET', url })
    t.equal(res.statusCode, 404, `off: ${url} is 404`)
    t.equal(res.json().code, 'ROUTE_NOT_FOUND')
  }
  const reader = generateApiKey('reader', ['docs:read'])
  const { app: scoped } = await buildTestApp(t, {
    env: { DOCS_ACCESS: 'docs:read', API_KEYS: JSON.stringify([reader.entry]) },
    docsDocument: async () => document
  })
  for (const url of ['/docs', '/docs/json', '/docs/static/swagger-initializer.js']) {
    t.equal((await scoped.inject({ method: 'GET', url })).statusCode, 401, `scoped: ${url} without a credential is 401`)
    const allowed = await scoped.inject({ method: 'GET', url, headers: { 'x-api-key': reader.key } })
    t.equal(allowed.statusCode, 200, `scoped: ${url} with docs:read is 200`)
  }
})
