import pkg from '../package.json' with { type: 'json' }
import { ApiKeysError, parseApiKeys, type ApiKey } from './auth/api-keys.ts'
import type { JwtConfig } from './auth/jwt.ts'
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
  endpoints: { dynamodb?: string, s3?: string, secretsManager?: string, ssm?: string }
  /** True when no AWS endpoint is configured outside production: the HTTP server then starts the embedded stack. */
  embeddedStack: boolean
  /** Endpoints are set and no AWS credentials are: talk to an emulator with fixed dummy credentials. */
  useEmulatorCredentials: boolean
  tables: TableNames
  buckets: BucketNames
  /** '*' or an explicit list; an empty list disables CORS. */
  allowedOrigins: '*' | string[]
  /** From API_KEYS; keys from API_KEYS_SECRET are added when the app is built. */
  apiKeys: ApiKey[]
  apiKeysSecret?: string
  jwt?: JwtConfig
  rateLimit: { max: number, windowMs: number }
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

function positiveInteger (env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${name} must be a positive integer, got ${JSON.stringify(raw)}`)
  return value
}

function apiKeys (raw: string | undefined): ApiKey[] {
  if (raw === undefined || raw.trim() === '') return []
  try {
    return parseApiKeys(raw, 'API_KEYS')
  } catch (err) {
    if (err instanceof ApiKeysError) throw new ConfigError(err.message)
    throw err
  }
}

function jwt (env: NodeJS.ProcessEnv): JwtConfig | undefined {
  const issuer = env.JWT_ISSUER?.trim()
  const audience = (env.JWT_AUDIENCE ?? '').split(',').map(a => a.trim()).filter(Boolean)
  if (!issuer && audience.length === 0) return undefined
  if (!issuer || audience.length === 0) throw new ConfigError('JWT_ISSUER and JWT_AUDIENCE go together: set both or neither')
  const jwksUrl = endpoint(env, 'JWT_JWKS_URL')
  try {
    new URL(issuer)
  } catch {
    throw new ConfigError(`JWT_ISSUER must be a URL, got ${JSON.stringify(issuer)}`)
  }
  return { issuer, audience, jwksUrl }
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
  const endpoints = {
    dynamodb: endpoint(env, 'AWS_ENDPOINT_URL_DYNAMODB'),
    s3: endpoint(env, 'AWS_ENDPOINT_URL_S3'),
    secretsManager: endpoint(env, 'AWS_ENDPOINT_URL_SECRETS_MANAGER'),
    ssm: endpoint(env, 'AWS_ENDPOINT_URL_SSM')
  }
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
    useEmulatorCredentials: Object.values(endpoints).some(url => url !== undefined) &&
      env.AWS_ACCESS_KEY_ID === undefined && env.AWS_PROFILE === undefined,
    tables: tableNames(env),
    buckets: bucketNames(env),
    allowedOrigins: origins(env.ALLOWED_ORIGINS, production),
    apiKeys: apiKeys(env.API_KEYS),
    apiKeysSecret: env.API_KEYS_SECRET?.trim() || undefined,
    jwt: jwt(env),
    rateLimit: {
      max: positiveInteger(env, 'RATE_LIMIT_MAX', 300),
      windowMs: positiveInteger(env, 'RATE_LIMIT_WINDOW_SECONDS', 60) * 1000
    }
  }
}
