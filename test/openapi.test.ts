import SwaggerParser from '@apidevtools/swagger-parser'
import t from 'tap'
import { buildTestApp } from './helper.ts'

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const

interface Operation {
  tags?: string[]
  summary?: string
  parameters?: Array<{ in: string; name: string }>
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

t.test('/docs serves the UI', async t => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: '/docs' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/html/)
  t.match(res.body, /swagger-ui/i)
  const init = await app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' })
  t.equal(init.statusCode, 200)
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
