import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Config } from '../config.ts'
import { RETRY_AFTER_SECONDS } from '../http-error.ts'
import { errorResponses } from '../schemas/common.ts'
import { HealthQuery, HealthResponse } from '../schemas/health.ts'

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
          503: { ...HealthResponse, description: 'A table or bucket is unreachable (deep check only): checks names it' }
        }
      }
    },
    async (request, reply) => {
      const base = { version: config.version, uptime: Math.round((Date.now() - startedAt) / 100) / 10 }
      const deep = request.query.deep === '1' || request.query.deep === 'true'
      if (!deep) return { status: 'ok' as const, ...base }
      const checks = await app.healthRepository.check()
      const healthy = checks.dynamodb === 'ok' && checks.s3 === 'ok'
      if (!healthy) reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS))
      return { status: healthy ? ('ok' as const) : ('degraded' as const), ...base, checks }
    }
  )
}

export default healthRoutes
