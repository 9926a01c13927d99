import type { SwaggerOptions } from '@fastify/swagger'
import fp from 'fastify-plugin'
import type { Config } from '../../config/config.ts'
import { SECURITY_SCHEMES } from '../../auth/credentials.ts'
import docsOnDemand from './docs-on-demand.ts'
import { uiOptions } from './docs-ui.ts'

export interface OpenApiOptions {
  config: Config
  /** Where swagger-ui's static files are, when not in node_modules (the Lambda bundle copies them). */
  uiStaticDir?: string
  /**
   * The document as the build wrote it (the Lambda bundle's openapi.json). Then the
   * routes are not walked and /docs is served from it, its plugins loaded on its
   * first request instead of at start-up.
   */
  document?: () => Promise<object>
}

export const TAGS = [
  { name: 'data', description: 'Versioned storage of client-side-encrypted datasets' },
  { name: 'users', description: 'User records with unique emails, in creation order' },
  { name: 'assets', description: 'Files in S3 through presigned URLs, their metadata in DynamoDB' },
  { name: 'projects', description: 'Per-project change feeds with gap-free sequence numbers' },
  { name: 'sync', description: 'Obsidian Sync vaults backed up into S3, on demand and on a schedule' },
  { name: 'health', description: 'Liveness and dependency checks' }
]

type Parameter = { in?: string; required?: boolean; schema?: { default?: unknown } }
type Operations = Record<string, { parameters?: Parameter[] }>

/**
 * A query or header parameter with a default is optional to the caller: the validator fills it in. The schemas list
 * it as required so handlers see it set, and @fastify/swagger copies that list; client generators then make every
 * caller spell out every default. This corrects the document, for every route.
 */
function optionalDefaults<T>(document: T): T {
  const paths = (document as { paths?: Record<string, Operations> }).paths ?? {}
  for (const operations of Object.values(paths))
    for (const operation of Object.values(operations))
      for (const parameter of operation.parameters ?? [])
        if (parameter.in !== 'path' && parameter.schema?.default !== undefined) parameter.required = false
  return document
}

export const swaggerOptions = (config: Config): SwaggerOptions => ({
  openapi: {
    openapi: '3.0.3',
    info: {
      title: 'Atlas API',
      version: config.version,
      description: 'Datasets, users, assets, project change feeds and Obsidian vault backups over DynamoDB and S3.'
    },
    tags: TAGS,
    components: { securitySchemes: SECURITY_SCHEMES }
  },
  transformObject: document =>
    'openapiObject' in document ? optionalDefaults(document.openapiObject) : document.swaggerObject
})

/**
 * The OpenAPI 3 document is built from the routes' TypeBox schemas: `/docs` shows it, `/docs/json` serves it, to
 * anyone, to credentials with a scope (the auth plugin), or not at all, as `config.docs` says.
 */
export default fp<OpenApiOptions>(
  async (app, { config, uiStaticDir, document }) => {
    if (document !== undefined) {
      if (config.docs === 'off') return
      return await app.register(docsOnDemand, { document, uiStaticDir })
    }
    // Imported here, not at the top, so a bundle that serves a prebuilt document loads them only when asked.
    const [{ default: swagger }, { default: swaggerUi }] = await Promise.all([
      import('@fastify/swagger'),
      import('@fastify/swagger-ui')
    ])
    await app.register(swagger, swaggerOptions(config))
    // Off, the document is still built (app.swagger(), dist/openapi.json) but nothing serves it.
    if (config.docs === 'off') return
    await app.register(swaggerUi, uiOptions(uiStaticDir))
  },
  { name: 'openapi' }
)
