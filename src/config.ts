import pkg from '../package.json' with { type: 'json' }
import { tableNames, bucketNames, type TableNames, type BucketNames } from './tables.ts'

export type Runtime = 'server' | 'lambda'

export interface Config {
  nodeEnv: string
  runtime: Runtime
  version: string
  host: string
  port: number
  logLevel: string
  prettyLogs: boolean
  dataDir: string
  region: string
  endpoints: { dynamodb?: string, s3?: string }
  /** True when no AWS endpoint is configured outside production: the HTTP server then starts the embedded stack. */
  embeddedStack: boolean
  /** Endpoints are set and no AWS credentials are: talk to an emulator with fixed dummy credentials. */
  useEmulatorCredentials: boolean
  tables: TableNames
  buckets: BucketNames
  /** '*' or an explicit list; an empty list disables CORS. */
  allowedOrigins: '*' | string[]
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export class ConfigError extends Error {
  override name = 'ConfigError'
}

function port (env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new ConfigError(`${name} must be a port number from 0 to 65535, got ${JSON.stringify(raw)}`)
  }
  return value
}

function endpoint (env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name]
  if (raw === undefined || raw === '') return undefined
  try {
    return new URL(raw).toString().replace(/\/$/, '')
  } catch {
    throw new ConfigError(`${name} must be a URL, got ${JSON.stringify(raw)}`)
  }
}

function origins (raw: string | undefined, production: boolean): '*' | string[] {
  // Browsers from anywhere may call a laptop's API; a deployed one answers only the origins it was given.
  if (raw === undefined || raw.trim() === '') return production ? [] : '*'
  if (raw.trim() === '*') return '*'
  return raw.split(',').map(o => o.trim()).filter(Boolean)
}

/** The one place that reads the environment. Throws ConfigError on a value it cannot use. */
export function loadConfig (env: NodeJS.ProcessEnv = process.env, runtime: Runtime = 'server'): Config {
  const nodeEnv = env.NODE_ENV ?? 'development'
  const production = nodeEnv === 'production'
  const logLevel = env.LOG_LEVEL ?? 'info'
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`)
  }
  const endpoints = { dynamodb: endpoint(env, 'AWS_ENDPOINT_URL_DYNAMODB'), s3: endpoint(env, 'AWS_ENDPOINT_URL_S3') }
  return {
    nodeEnv,
    runtime,
    version: pkg.version,
    host: env.HOST ?? '127.0.0.1',
    port: port(env, 'PORT', 3000),
    logLevel,
    prettyLogs: runtime === 'server' && !production && env.LOG_FORMAT !== 'json',
    dataDir: env.DATA_DIR ?? '.data',
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    endpoints,
    embeddedStack: runtime === 'server' && !production && endpoints.dynamodb === undefined && endpoints.s3 === undefined,
    useEmulatorCredentials: (endpoints.dynamodb !== undefined || endpoints.s3 !== undefined) &&
      env.AWS_ACCESS_KEY_ID === undefined && env.AWS_PROFILE === undefined,
    tables: tableNames(env),
    buckets: bucketNames(env),
    allowedOrigins: origins(env.ALLOWED_ORIGINS, production)
  }
}
