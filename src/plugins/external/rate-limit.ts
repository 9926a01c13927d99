import rateLimit from '@fastify/rate-limit'
import fp from 'fastify-plugin'
import type { Config } from '../../config/config.ts'
import { HttpError } from '../../http/http-error.ts'

/**
 * A window of `RATE_LIMIT_MAX` requests per `RATE_LIMIT_WINDOW_SECONDS`, per
 * credential, else per client IP. Counts live in this process: on Lambda each
 * container counts on its own, and the HTTP API's stage throttling is the
 * limit across all of them.
 */
export default fp<{ config: Config; docsPrefix: string }>(
  async (app, { config, docsPrefix }) => {
    await app.register(rateLimit, {
      global: true,
      max: config.rateLimit.max,
      timeWindow: config.rateLimit.windowMs,
      keyGenerator: request =>
        request.principal ? `${request.principal.kind}:${request.principal.id}` : `ip:${request.ip}`,
      // Public docs are not counted; behind a scope they are, so refused credentials count there too.
      allowList: request =>
        config.docs === 'public' && (request.url === docsPrefix || request.url.startsWith(`${docsPrefix}/`)),
      errorResponseBuilder: (_request, context) =>
        new HttpError(
          429,
          'RATE_LIMITED',
          `More than ${context.max} requests in ${config.rateLimit.windowMs / 1000} seconds; retry after ${Math.ceil(context.ttl / 1000)} s`,
          { 'retry-after': String(Math.ceil(context.ttl / 1000)) }
        )
    })
  },
  { name: 'rate-limit', dependencies: ['errors'] }
)
