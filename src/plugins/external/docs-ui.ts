import type { FastifySwaggerUiOptions } from '@fastify/swagger-ui'

/** Where the docs are served: the UI at this path, the document at `${DOCS_PREFIX}/json`. */
export const DOCS_PREFIX = '/docs'

/** swagger-ui's options, one set for the server's docs and for the bundle's docs built on demand, so both serve the same. */
export const uiOptions = (uiStaticDir: string | undefined): FastifySwaggerUiOptions => ({
  routePrefix: DOCS_PREFIX,
  baseDir: uiStaticDir,
  staticCSP: true,
  uiConfig: { docExpansion: 'list', deepLinking: true, persistAuthorization: true }
})
