import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { createCredentialResolver, type Principal, type Resolution } from '../../auth/credentials.ts'
import { isValidScope, missingScopes } from '../../auth/scopes.ts'
import type { Config } from '../../config/config.ts'
import { HttpError, RETRY_AFTER_SECONDS } from '../../http/http-error.ts'
import { errorResponses } from '../../schemas/common.ts'

/**
 * What a route needs, declared in its `config.auth`: `'public'`, or scopes
 * that must all be granted. A function builds them from the request, for
 * scopes that name a resource (`projects:<projectId>:read`); it returns
 * undefined when the request names no valid resource, which is a 400.
 */
export type AuthRequirement =
  'public' | { scopes: readonly string[] | ((request: FastifyRequest) => string[] | undefined) }

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthRequirement
  }
  interface FastifyRequest {
    principal: Principal | undefined
    authFailure: Exclude<Resolution, { principal: Principal }> | undefined
  }
  interface FastifyInstance {
    /** Every route that needs credentials, as registered: what the auth tests walk. */
    protectedRoutes: Array<{ method: string; url: string; auth: Exclude<AuthRequirement, 'public'> }>
  }
}

const REALM = 'Bearer realm="atlas-api"'

export interface AuthOptions {
  config: Config
  /** Routes under this prefix (the docs UI and its files) are public without declaring it, or need `config.docs`'s scope. */
  docsPrefix: string
}

function isInfrastructureRoute(route: RouteOptions, docsPrefix: string): boolean {
  const url = route.url ?? ''
  return url === docsPrefix || url.startsWith(`${docsPrefix}/`) || (route.method === 'OPTIONS' && url === '*')
}

/**
 * One place decides who may call what. Every route declares its requirement;
 * one that does not is refused when it is registered, so buildApp throws
 * rather than serving it open.
 */
export default fp<AuthOptions>(
  async (app, { config, docsPrefix }) => {
    const resolve = await createCredentialResolver({
      apiKeys: config.apiKeys,
      jwt: config.jwt,
      keySource: { apiKeysSecret: config.apiKeysSecret, clients: app.aws }
    })
    const protectedRoutes: typeof app.protectedRoutes = []

    app.decorateRequest('principal', undefined)
    app.decorateRequest('authFailure', undefined)
    app.decorate('protectedRoutes', protectedRoutes)

    app.addHook('onRoute', route => {
      if (isInfrastructureRoute(route, docsPrefix)) {
        // The docs behind a scope: the whole prefix, UI and document alike, like any protected route.
        if (typeof config.docs === 'object' && route.url !== '*') {
          route.config = { ...route.config, auth: { scopes: [config.docs.scope] } }
          route.onRequest = [...[route.onRequest ?? []].flat(), authorize]
        }
        return
      }
      const auth = route.config?.auth
      const name = `${String(route.method)} ${route.url}`
      if (auth === undefined) {
        throw new Error(`Route ${name} declares no auth requirement: set config.auth to 'public' or { scopes: [...] }`)
      }
      if (auth === 'public') {
        route.schema = { ...route.schema, security: [] }
        return
      }
      if (Array.isArray(auth.scopes) && !auth.scopes.every(isValidScope))
        throw new Error(`Route ${name} declares an invalid scope`)
      const scopes = Array.isArray(auth.scopes)
        ? `Requires scope ${auth.scopes.join(' and ')}.`
        : 'Requires a scope naming the resource.'
      route.schema = {
        ...route.schema,
        description: [route.schema?.description, scopes].filter(Boolean).join('\n\n'),
        security: [{ apiKey: [] }, { bearerAuth: [] }],
        response: { ...errorResponses(401, 403), ...(route.schema?.response as object) }
      }
      // After the rate limiter's hook (its onRoute runs first), so refused callers are counted too.
      route.onRequest = [...[route.onRequest ?? []].flat(), authorize]
      for (const method of [route.method].flat()) protectedRoutes.push({ method, url: route.url, auth })
    })

    // Runs before every route-level hook: the rate limiter keys on what this finds.
    // A callback, so public routes (most requests on some APIs) make no promise here.
    app.addHook('onRequest', (request, _reply, done) => {
      const auth = request.routeOptions.config.auth
      if (auth === undefined || auth === 'public') {
        done()
        return
      }
      resolve(request.headers).then(resolution => {
        if ('principal' in resolution) request.principal = resolution.principal
        else request.authFailure = resolution
        done()
      }, done)
    })

    async function authorize(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
      const auth = request.routeOptions.config.auth as Exclude<AuthRequirement, 'public'>
      switch (request.authFailure?.failure) {
        case 'missing':
          throw new HttpError(
            401,
            'UNAUTHENTICATED',
            'This route needs an API key (x-api-key or Authorization: Bearer) or a JWT',
            { 'www-authenticate': REALM }
          )
        case 'invalid':
          throw new HttpError(401, 'INVALID_CREDENTIALS', 'The credential sent is not valid', {
            'www-authenticate': `${REALM}, error="invalid_token"`
          })
        case 'unavailable':
          throw new HttpError(
            503,
            'DEPENDENCY_UNAVAILABLE',
            "The token issuer's keys cannot be fetched; retry later",
            { 'retry-after': String(RETRY_AFTER_SECONDS) },
            { cause: request.authFailure.cause }
          )
      }
      const principal = request.principal!
      const required = typeof auth.scopes === 'function' ? auth.scopes(request) : auth.scopes
      // An id that cannot name a resource is bad input, whoever sends it.
      if (required === undefined)
        throw new HttpError(400, 'INVALID_RESOURCE_ID', 'The resource id in the path is not valid')
      const missing = missingScopes(principal.scopes, required)
      if (missing.length > 0) {
        throw new HttpError(403, 'FORBIDDEN', `Credential ${principal.id} lacks ${missing.join(', ')}`)
      }
      request.log.debug({ principal: principal.id }, 'authorized')
    }
  },
  // aws: the keys kept in Secrets Manager or SSM are read through the app's clients.
  { name: 'auth', dependencies: ['errors', 'rate-limit', 'aws'] }
)
