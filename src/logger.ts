import type { FastifyServerOptions } from 'fastify'
import type { Config } from './config.ts'

/** Paths pino blanks out: credentials and user payloads never reach the logs. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'body',
  'payload',
  '*.payload',
  'meta',
  '*.meta'
]

const redact = { paths: REDACTED_PATHS, censor: '[redacted]' }

/** JSON to stdout (or the given stream); pretty-printed on a laptop. */
export function loggerOptions(
  config: Config,
  stream?: { write: (line: string) => void }
): FastifyServerOptions['logger'] {
  if (stream !== undefined) return { level: config.logLevel, redact, stream }
  if (!config.prettyLogs) return { level: config.logLevel, redact }
  return {
    level: config.logLevel,
    redact,
    transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } }
  }
}
