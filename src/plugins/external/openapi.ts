import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import type { Config } from '../../config.ts'
import { SECURITY_SCHEMES } from '../../auth/credentials.ts'

export interface OpenApiOptions {
  config: Config
  /** Where swagger-ui's static files are, when not in node_modules (the Lambda bundle copies them). */
  uiStaticDir?: string
}

export const DOCS_PREFIX = '/docs'

export const TAGS = [
  { name: 'data', description: 'Versioned storage of client-side-encrypted datasets' },
  { name: 'users', description: 'User records with unique emails, in creation order' },
  { name: 'assets', description: 'Files in S3 through presigned URLs, their metadata in DynamoDB' },
  { name: 'projects', description: 'Per-project change feeds with gap-free sequence numbers' },
  { name: 'sync', description: 'Obsidian Sync vaults backed up into S3, on demand and on a schedule' },
  { name: 'health', description: 'Liveness and dependency checks' }
]

/** The OpenAPI 3 document is built from the routes' TypeBox schemas: `/docs` shows it, `/docs/json` serves it. */
export default fp<OpenApiOptions>(
  async (app, { config, uiStaticDir }) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'Atlas API',
          version: config.version,
          description: 'Datasets, users, assets and project change feeds over DynamoDB and S3.'
        },
        tags: TAGS,
        components: { securitySchemes: SECURITY_SCHEMES }
      }
    })
    await app.register(swaggerUi, {
      routePrefix: DOCS_PREFIX,
      baseDir: uiStaticDir,
      staticCSP: true,
      uiConfig: { docExpansion: 'list', deepLinking: true, persistAuthorization: true }
    })
  },
  { name: 'openapi' }
)
