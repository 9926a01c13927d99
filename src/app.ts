import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import type { AwsClients } from './aws/clients.ts'
import type { Config } from './config/config.ts'
import { loggerOptions } from './config/logger.ts'
import authPlugin from './plugins/app/auth.ts'
import awsPlugin from './plugins/app/aws.ts'
import errorsPlugin, { clientErrorHandler, frameworkErrorHandler } from './plugins/app/errors.ts'
import repositoriesPlugin, { type RepositoryOverrides } from './plugins/app/repositories.ts'
import requestFramingPlugin from './plugins/app/request-framing.ts'
import requestTextPlugin from './plugins/app/request-text.ts'
import corsPlugin from './plugins/external/cors.ts'
import { DOCS_PREFIX } from './plugins/external/docs-ui.ts'
import openapiPlugin from './plugins/external/openapi.ts'
import rateLimitPlugin from './plugins/external/rate-limit.ts'
import securityHeadersPlugin, { SECURITY_HEADERS } from './plugins/external/security-headers.ts'
import syncPlugin, { type SyncPluginOptions } from './plugins/app/sync.ts'
import assetsRoutes from './routes/assets.ts'
import dataRoutes from './routes/data.ts'
import healthRoutes from './routes/health.ts'
import projectsRoutes from './routes/projects.ts'
import syncRoutes from './routes/sync.ts'
import syncHistoryRoutes from './routes/sync-history.ts'
import syncExportsRoutes from './routes/sync-exports.ts'
import syncRestoresRoutes from './routes/sync-restores.ts'
import usersRoutes from './routes/users.ts'
import { schemaController, type SchemaCompilers } from './http/schema-compilers.ts'

/**
 * The longest path parameter the router takes, as it measures them (decoded):
 * the longest documented id, a /projects entity id of 256 characters. Longer
 * is 414; Fastify's default of 100 refused ids the API accepts elsewhere.
 */
export const MAX_PARAM_LENGTH = 256

/**
 * A request's headers and body must have arrived this long after it started,
 * or it is answered 408. Node checks every REQUEST_CHECK_MS, so a client
 * trickling its body (or nothing after its headers) has its answer within
 * 30 s; Fastify's default of 0 left such a request unanswered for ever. Once
 * the request has arrived it no longer counts: a long poll's wait is not in it.
 */
export const REQUEST_TIMEOUT_MS = 25_000
const REQUEST_CHECK_MS = 2_500

/** Node's server settings for one request timeout: headers within it too, checked a tenth as often. */
function requestTimeouts(timeoutMs: number) {
  return {
    requestTimeout: timeoutMs,
    headersTimeout: timeoutMs,
    connectionsCheckingInterval: Math.min(REQUEST_CHECK_MS, Math.max(10, Math.floor(timeoutMs / 10)))
  }
}

export interface BuildOptions {
  /** Clients to use instead of building them from config; the caller closes them. */
  clients?: AwsClients
  /** Repository settings that differ from the defaults (tests shrink limits to reach large-input paths). */
  repositories?: RepositoryOverrides
  docsStaticDir?: string
  /** A prebuilt OpenAPI document to serve /docs from, its plugins loaded on demand (the Lambda bundle's). */
  docsDocument?: () => Promise<object>
  /** Where logs go instead of stdout (tests read them). */
  logStream?: { write: (line: string) => void }
  /** Route plugins registered after the app's own, under the same auth rules (tests use it). */
  extraRoutes?: FastifyPluginAsync[]
  /** How sync slices after a request start, and where sync metrics go (tests capture both). */
  sync?: Pick<SyncPluginOptions, 'launcher' | 'metricsSink'>
  /** How route schemas become validators and serializers; by default they are compiled at start-up (src/http/validation.ts). */
  schemaCompilers?: SchemaCompilers
  /** How long a request may take to arrive (REQUEST_TIMEOUT_MS); tests shorten it. */
  requestTimeoutMs?: number
}

/**
 * The one app, for the HTTP server, the Lambda handler and tests alike. Registers
 * plugins, then routes; not yet ready, so an adapter can still decorate it.
 */
export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  // Imported only when needed, so the Lambda bundle, which brings its own, never loads ajv.
  const compilers = options.schemaCompilers ?? (await import('./http/validation.ts')).runtimeCompilers
  const timeouts = requestTimeouts(options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS)
  const app = Fastify({
    logger: loggerOptions(config, options.logStream),
    // On Lambda, lambda.ts puts API Gateway's request id in this header; elsewhere clients cannot choose ours.
    requestIdHeader: config.runtime === 'lambda' ? 'x-request-id' : false,
    genReqId: () => randomUUID(),
    trustProxy: config.runtime === 'lambda',
    bodyLimit: 1024 * 1024,
    requestTimeout: timeouts.requestTimeout,
    // Node's own 400 for a request without Host has no body: request-framing answers it in the documented shape.
    http: { ...timeouts, requireHostHeader: false },
    // HEAD only where a GET route asks for it (`exposeHeadRoute`: is it up, which version is current), not as a
    // second route for every GET, each one more for a cold start to register.
    exposeHeadRoutes: false,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: frameworkErrorHandler(SECURITY_HEADERS),
    clientErrorHandler: clientErrorHandler(SECURITY_HEADERS),
    schemaController: schemaController(compilers)
  })
  // Hooks every request runs take a callback, not a promise: no promise, no microtask, for a header.
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id)
    done(null, payload)
  })

  await app.register(errorsPlugin)
  await app.register(requestTextPlugin)
  await app.register(securityHeadersPlugin)
  // After the security headers, so its refusals carry them; before CORS, auth and limits, which need a Host.
  await app.register(requestFramingPlugin)
  await app.register(corsPlugin, { config })
  // Before auth, which reads the keys kept in Secrets Manager or SSM through it.
  await app.register(awsPlugin, { config, clients: options.clients })
  // The limiter first: its per-route hook then runs before auth's refusal, so refused callers count too (auth's
  // plugin declares it a dependency, so registering them the other way round fails at boot).
  await app.register(rateLimitPlugin, { config, docsPrefix: DOCS_PREFIX })
  await app.register(authPlugin, { config, docsPrefix: DOCS_PREFIX })
  // After auth, so its routes under /docs get the access config.docs asks for; before the routes it documents.
  await app.register(openapiPlugin, { config, uiStaticDir: options.docsStaticDir, document: options.docsDocument })
  await app.register(repositoriesPlugin, { config, overrides: options.repositories })
  await app.register(syncPlugin, { config, ...options.sync })

  await app.register(healthRoutes, { config })
  await app.register(dataRoutes)
  await app.register(projectsRoutes)
  await app.register(usersRoutes)
  await app.register(assetsRoutes)
  await app.register(syncRoutes)
  await app.register(syncHistoryRoutes)
  await app.register(syncExportsRoutes)
  await app.register(syncRestoresRoutes)
  for (const routes of options.extraRoutes ?? []) await app.register(routes)
  return app
}
