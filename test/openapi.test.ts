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
