import cors from '@fastify/cors'
import fp from 'fastify-plugin'
import type { Config } from '../../config/config.ts'

/** Headers a browser client must be able to read: ETag above all, for If-Match. */
export const EXPOSED_HEADERS = ['ETag', 'Location', 'Retry-After', 'X-Request-Id']

export default fp<{ config: Config }>(
  async (app, { config }) => {
    const origins = config.allowedOrigins
    if (origins !== '*' && origins.length === 0) return
    await app.register(cors, {
      origin: origins === '*' ? '*' : origins,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      exposedHeaders: EXPOSED_HEADERS,
      maxAge: 600
    })
  },
  { name: 'cors' }
)
