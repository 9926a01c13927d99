import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Config } from '../config/config.ts'
import { UnavailableError } from '../core/errors.ts'
import { errorResponses } from '../schemas/common.ts'
import { HealthDegraded, HealthQuery, HealthResponse } from '../schemas/health.ts'

const startedAt = Date.now()

const healthRoutes: FastifyPluginAsyncTypebox<{ config: Config }> = async (app, { config }) => {
  app.get(
    '/health',
    {
      // Uptime checks probe with HEAD.
      exposeHeadRoute: true,
      config: { auth: 'public' },
      schema: {
        tags: ['health'],
        summary: 'Liveness, and with ?deep=1 whether every table and bucket answers',
        querystring: HealthQuery,
        response: {
          200: HealthResponse,
          ...errorResponses(),
          503: HealthDegraded
        }
      }
    },
    async request => {
      const base = { version: config.version, uptime: Math.round((Date.now() - startedAt) / 100) / 10 }
      const deep = request.query.deep === '1' || request.query.deep === 'true'
      if (!deep) return { status: 'ok' as const, ...base }
      const checks = await app.healthRepository.check()
      if (checks.dynamodb === 'ok' && checks.s3 === 'ok') return { status: 'ok' as const, ...base, checks }
      // The error handler answers it like every 503: status, Retry-After, the error fields, and these beside them.
      throw new UnavailableError('DEPENDENCY_UNAVAILABLE', 'A table or bucket is unreachable; checks names it', {
        details: { status: 'degraded', ...base, checks }
      })
    }
  )
}

export default healthRoutes
