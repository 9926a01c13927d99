import pkg from '../../package.json' with { type: 'json' }
import { ApiKeysError, parseApiKeys, type ApiKey } from '../auth/api-keys.ts'
import type { JwtConfig } from '../auth/jwt.ts'
import { isValidScope } from '../auth/scopes.ts'
import { tableNames, bucketNames, type TableNames, type BucketNames } from '../core/tables.ts'

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
  endpoints: { dynamodb?: string; s3?: string; secretsManager?: string; ssm?: string; lambda?: string }
  /** AWS_LAMBDA_FUNCTION_NAME, which Lambda sets: the function a sync run's next slice invokes. */
  functionName?: string
  /** True when no AWS endpoint is configured outside production: the HTTP server then starts the embedded stack. */
  embeddedStack: boolean
  /**
   * The HTTP server outside production pointed at emulators: it creates the tables of src/core/tables.ts that are missing
   * when a DynamoDB endpoint is set, the buckets when an S3 endpoint is, as the embedded stack does. Never in
   * production, never on Lambda.
   */
  createMissingStorage: boolean
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
  rateLimit: { max: number; windowMs: number }
  assets: AssetsConfig
  obsidian: { apiUrl: string }
  /** Who may read /docs and /docs/json: anyone, nobody (not served), or credentials granted this scope. */
  docs: DocsAccess
  sync: SyncConfig
}

/** /sync: where backups may go, how a run is cut into slices, and the account it signs in with. */
export interface SyncConfig {
  /** SYNC_ALLOWED_BUCKETS: the buckets a run may write to; the stack's sync bucket by default. */
  allowedBuckets: string[]
  /** SYNC_STOP_BEFORE_MS: a slice stops this long before its invocation's deadline. */
  stopBeforeMs: number
  /** SYNC_TIME_BUDGET_MS: a slice's length where there is no deadline (local runs, tests). */
  timeBudgetMs: number
  /** SYNC_MAX_HOPS: slices in one run's chain, at most. */
  maxHops: number
  /** SYNC_PULL_CONCURRENCY: files in flight at once per vault (pulled one at a time on its one connection, uploaded meanwhile). */
  pullConcurrency: number
  /** SYNC_VAULT_CONCURRENCY: vaults a slice syncs at once, each on its own connection. */
  vaultConcurrency: number
  /** AWS_LAMBDA_FUNCTION_MEMORY_SIZE, which Lambda sets: reported in a run's details as `lambda_memory`. */
  lambdaMemory?: string
  /** SYNC_LEASE_MS: how long a vault stays claimed by a run that stopped renewing its lease. */
  leaseMs: number
  account: SyncAccountConfig
}

/** The Obsidian account scheduled and body-less runs use; `secret` is read once per container. */
export interface SyncAccountConfig {
  email?: string
  password?: string
  totpSecret?: string
  /** Vault id or name -> encryption password. */
  vaultPasswords: Record<string, string>
  /** OBSIDIAN_SECRET: a Secrets Manager secret or `ssm:<name>` holding the same settings as JSON. */
  secret?: string
}

export type DocsAccess = 'public' | 'off' | { scope: string }

export interface AssetsConfig {
  /** Largest upload a client may declare. */
  maxBytes: number
  /** Content types a client may declare, lower-case. */
  allowedTypes: string[]
  /** Declared sizes above this upload in parts. */
  multipartBytes: number
  /** Lifetime of every presigned URL. */
  presignTtlSeconds: number
}

const MIB = 1024 * 1024
/** Common document, image, audio and video types; no HTML or SVG, which a browser would run. */
export const DEFAULT_ASSET_TYPES = [
  'application/json',
  'application/octet-stream',
  'application/pdf',
  'application/zip',
  'audio/mpeg',
  'audio/wav',
  'image/gif',
  'image/jpeg',
  'image/png',
  'image/webp',
  'text/csv',
  'text/plain',
  'video/mp4',
  'video/webm'
]
const CONTENT_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/

function assets(env: NodeJS.ProcessEnv): AssetsConfig {
  const maxBytes = positiveInteger(env, 'ASSETS_MAX_BYTES', 100 * MIB)
  // S3 takes one PUT up to 5 GiB and parts of at least 5 MiB.
  if (maxBytes > 5 * 1024 * 1024 * MIB)
    throw new ConfigError("ASSETS_MAX_BYTES may be at most 5 TiB, S3's object limit")
  const multipartBytes = positiveInteger(env, 'ASSETS_MULTIPART_BYTES', 64 * MIB)
  if (multipartBytes < 5 * MIB || multipartBytes > 5 * 1024 * MIB) {
    throw new ConfigError(
      "ASSETS_MULTIPART_BYTES must be from 5 MiB (S3's smallest part) to 5 GiB (its largest single PUT)"
    )
  }
  const presignTtlSeconds = positiveInteger(env, 'PRESIGN_TTL_SECONDS', 3600)
  if (presignTtlSeconds > 604_800)
    throw new ConfigError("PRESIGN_TTL_SECONDS may be at most 604800 (7 days, SigV4's limit)")
  const raw = env.ASSETS_ALLOWED_TYPES?.trim()
  const allowedTypes = raw ? commaList(raw.toLowerCase()) : DEFAULT_ASSET_TYPES
  const invalid = allowedTypes.find(type => !CONTENT_TYPE.test(type))
  if (invalid !== undefined)
    throw new ConfigError(
      `ASSETS_ALLOWED_TYPES must be comma-separated type/subtype values, got ${JSON.stringify(invalid)}`
    )
  return { maxBytes, allowedTypes, multipartBytes, presignTtlSeconds }
}

/** Vault passwords: a JSON object of non-empty strings, keyed by vault id or name. */
export function parseVaultPasswords(raw: string | undefined, origin: string): Record<string, string> {
  if (raw === undefined || raw.trim() === '') return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    throw new ConfigError(`${origin} must be a JSON object of vault id or name -> encryption password`)
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    Array.isArray(parsed) ||
    !Object.values(parsed).every(v => typeof v === 'string' && v !== '')
  )
    throw new ConfigError(`${origin} must be a JSON object of vault id or name -> encryption password`)
  return parsed as Record<string, string>
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

function sync(env: NodeJS.ProcessEnv, ownBucket: string): SyncConfig {
  const listed = commaList(env.SYNC_ALLOWED_BUCKETS)
  const invalid = listed.find(b => !BUCKET_NAME.test(b))
  if (invalid !== undefined)
    throw new ConfigError(`SYNC_ALLOWED_BUCKETS must be comma-separated bucket names, got ${JSON.stringify(invalid)}`)
  const optional = (name: string): string | undefined => env[name]?.trim() || undefined
  return {
    allowedBuckets: [...new Set([ownBucket, ...listed])],
    stopBeforeMs: positiveInteger(env, 'SYNC_STOP_BEFORE_MS', 60_000),
    timeBudgetMs: positiveInteger(env, 'SYNC_TIME_BUDGET_MS', 600_000),
    maxHops: positiveInteger(env, 'SYNC_MAX_HOPS', 20),
    pullConcurrency: Math.min(positiveInteger(env, 'SYNC_PULL_CONCURRENCY', 3), 16),
    vaultConcurrency: Math.min(positiveInteger(env, 'SYNC_VAULT_CONCURRENCY', 2), 8),
    lambdaMemory: optional('AWS_LAMBDA_FUNCTION_MEMORY_SIZE'),
    leaseMs: positiveInteger(env, 'SYNC_LEASE_MS', 10 * 60_000),
    account: {
      email: optional('OBSIDIAN_EMAIL'),
      password: env.OBSIDIAN_PASSWORD || undefined,
      totpSecret: optional('OBSIDIAN_TOTP_SECRET'),
      vaultPasswords: parseVaultPasswords(env.OBSIDIAN_VAULT_PASSWORDS, 'OBSIDIAN_VAULT_PASSWORDS'),
      secret: optional('OBSIDIAN_SECRET')
    }
  }
}

/** A comma-separated setting's entries, trimmed, empty ones dropped. */
function commaList(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map(entry => entry.trim())
    .filter(Boolean)
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export class ConfigError extends Error {
  override name = 'ConfigError'
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new ConfigError(`${name} must be a port number from 0 to 65535, got ${JSON.stringify(raw)}`)
  }
  return value
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1)
    throw new ConfigError(`${name} must be a positive integer, got ${JSON.stringify(raw)}`)
  return value
}

function apiKeys(raw: string | undefined): ApiKey[] {
  if (raw === undefined || raw.trim() === '') return []
  try {
    return parseApiKeys(raw, 'API_KEYS')
  } catch (err) {
    if (err instanceof ApiKeysError) throw new ConfigError(err.message)
    throw err
  }
}

function jwt(env: NodeJS.ProcessEnv): JwtConfig | undefined {
  const issuer = env.JWT_ISSUER?.trim()
  const audience = commaList(env.JWT_AUDIENCE)
  if (!issuer && audience.length === 0) return undefined
  if (!issuer || audience.length === 0)
    throw new ConfigError('JWT_ISSUER and JWT_AUDIENCE go together: set both or neither')
  const jwksUrl = endpoint(env, 'JWT_JWKS_URL')
  try {
    new URL(issuer)
  } catch {
    throw new ConfigError(`JWT_ISSUER must be a URL, got ${JSON.stringify(issuer)}`)
  }
  return { issuer, audience, jwksUrl }
}

function docs(raw: string | undefined): DocsAccess {
  const value = raw?.trim() || 'public'
  if (value === 'public' || value === 'off') return value
  if (!isValidScope(value))
    throw new ConfigError(`DOCS_ACCESS must be public, off or a scope such as docs:read, got ${JSON.stringify(raw)}`)
  return { scope: value }
}

function endpoint(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name]
  if (raw === undefined || raw === '') return undefined
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new ConfigError(`${name} must be a URL, got ${JSON.stringify(raw)}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError(`${name} must be an http(s) URL, got ${JSON.stringify(raw)}`)
  return url.toString().replace(/\/$/, '')
}

function origins(raw: string | undefined, production: boolean): '*' | string[] {
  // Browsers from anywhere may call a laptop's API; a deployed one answers only the origins it was given.
  if (raw === undefined || raw.trim() === '') return production ? [] : '*'
  if (raw.trim() === '*') return '*'
  return commaList(raw)
}

/** The one place that reads the environment. Throws ConfigError on a value it cannot use. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, runtime: Runtime = 'server'): Config {
  const nodeEnv = env.NODE_ENV ?? 'development'
  const production = nodeEnv === 'production'
  // On Lambda with LoggingConfig's JSON format, the function's ApplicationLogLevel arrives as AWS_LAMBDA_LOG_LEVEL.
  const logLevel = env.LOG_LEVEL ?? env.AWS_LAMBDA_LOG_LEVEL?.toLowerCase() ?? 'info'
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`)
  }
  const endpoints = {
    dynamodb: endpoint(env, 'AWS_ENDPOINT_URL_DYNAMODB'),
    s3: endpoint(env, 'AWS_ENDPOINT_URL_S3'),
    secretsManager: endpoint(env, 'AWS_ENDPOINT_URL_SECRETS_MANAGER'),
    ssm: endpoint(env, 'AWS_ENDPOINT_URL_SSM'),
    lambda: endpoint(env, 'AWS_ENDPOINT_URL_LAMBDA')
  }
  const bucketsByName = bucketNames(env)
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
    functionName: env.AWS_LAMBDA_FUNCTION_NAME?.trim() || undefined,
    embeddedStack:
      runtime === 'server' && !production && endpoints.dynamodb === undefined && endpoints.s3 === undefined,
    createMissingStorage:
      runtime === 'server' && !production && (endpoints.dynamodb !== undefined || endpoints.s3 !== undefined),
    useEmulatorCredentials:
      Object.values(endpoints).some(url => url !== undefined) &&
      env.AWS_ACCESS_KEY_ID === undefined &&
      env.AWS_PROFILE === undefined,
    tables: tableNames(env),
    buckets: bucketsByName,
    allowedOrigins: origins(env.ALLOWED_ORIGINS, production),
    apiKeys: apiKeys(env.API_KEYS),
    apiKeysSecret: env.API_KEYS_SECRET?.trim() || undefined,
    jwt: jwt(env),
    rateLimit: {
      max: positiveInteger(env, 'RATE_LIMIT_MAX', 300),
      windowMs: positiveInteger(env, 'RATE_LIMIT_WINDOW_SECONDS', 60) * 1000
    },
    assets: assets(env),
    obsidian: { apiUrl: endpoint(env, 'OBSIDIAN_API_URL') ?? 'https://api.obsidian.md' },
    docs: docs(env.DOCS_ACCESS),
    sync: sync(env, bucketsByName.sync)
  }
}
