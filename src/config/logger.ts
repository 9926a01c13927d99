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

/**
 * On Lambda, lines as its JSON log format reads them: `level` by name (Lambda filters on it) and an RFC 3339
 * `timestamp`, so CloudWatch shows the app's lines with the level and time they were written.
 */
const lambdaFormat = {
  formatters: { level: (label: string) => ({ level: label }) },
  timestamp: () => `,"timestamp":"${new Date().toISOString()}"`
}

/** JSON to stdout (or the given stream); pretty-printed on a laptop. */
export function loggerOptions(
  config: Config,
  stream?: { write: (line: string) => void }
): FastifyServerOptions['logger'] {
  const format = config.runtime === 'lambda' ? lambdaFormat : {}
  if (stream !== undefined) return { level: config.logLevel, redact, stream, ...format }
  if (!config.prettyLogs) return { level: config.logLevel, redact, ...format }
  return {
    level: config.logLevel,
    redact,
    transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } }
  }
}
