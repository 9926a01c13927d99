import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify'
import { DOCS_PREFIX, uiOptions } from './docs-ui.ts'

export interface DocsOnDemandOptions {
  document: () => Promise<object>
  uiStaticDir?: string
}

// Framing headers belong to the inner response; Fastify writes its own for the outer one.
const HOP_BY_HOP = new Set(['connection', 'content-length', 'keep-alive', 'transfer-encoding', 'date'])

/**
 * `/docs` and everything under it from a prebuilt document, for the Lambda
 * bundle: a cold start registers two routes and loads nothing else. The first
 * docs request builds a small app with the same plugins the server registers
 * (@fastify/swagger, in static mode on the document, and @fastify/swagger-ui
 * with the same options) and each request is answered by it, so both serve
 * the same bytes and headers.
 */
const docsOnDemand: FastifyPluginAsync<DocsOnDemandOptions> = async (app, { document, uiStaticDir }) => {
  let docsApp: Promise<FastifyInstance> | undefined

  async function buildDocsApp(): Promise<FastifyInstance> {
    const [{ default: swagger }, { default: swaggerUi }] = await Promise.all([
      import('@fastify/swagger'),
      import('@fastify/swagger-ui')
    ])
    const docs = Fastify({ logger: false })
    await docs.register(swagger, { mode: 'static', specification: { document: (await document()) as never } })
    const ui = uiOptions(uiStaticDir)
    // swagger-ui reads its default logo beside its own module, which in a bundle's chunk is not there.
    if (uiStaticDir !== undefined) {
      ui.logo = { type: 'image/svg+xml', content: await readFile(join(uiStaticDir, 'logo.svg')) }
    }
    await docs.register(swaggerUi, ui)
    await docs.ready()
    return docs
  }

  async function forward(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    // A failed build (an unreadable document) is tried again on the next request.
    docsApp ??= buildDocsApp().catch(err => {
      docsApp = undefined
      throw err
    })
    const docs = await docsApp
    const res = await docs.inject({ method: request.method as 'GET', url: request.url, headers: request.headers })
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) reply.header(name, value)
    }
    // A miss is the app's own 404, in its error shape, with the docs' headers (their CSP) as the server sends it.
    if (res.statusCode === 404) {
      reply.callNotFound()
      return reply
    }
    return reply.code(res.statusCode).send(res.rawPayload.length > 0 ? res.rawPayload : undefined)
  }

  app.get(DOCS_PREFIX, { schema: { hide: true } }, forward)
  app.get(`${DOCS_PREFIX}/*`, { schema: { hide: true } }, forward)
  app.addHook('onClose', async () => {
    if (docsApp !== undefined) await (await docsApp.catch(() => undefined))?.close()
  })
}

export default docsOnDemand
