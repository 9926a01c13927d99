import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { isValidScope } from './scopes.ts'

export interface ApiKey {
  id: string
  /** `sha256:<64 hex>` of the whole key. The key itself is never stored. */
  hash: string
  scopes: string[]
}

const HASH = /^sha256:[0-9a-f]{64}$/
const KEY_PREFIX = 'atk_'

export class ApiKeysError extends Error {
  override name = 'ApiKeysError'
}

export const hashKey = (key: string): string => 'sha256:' + createHash('sha256').update(key, 'utf8').digest('hex')

/** A new key: a prefix that makes leaked keys easy to grep for, then 256 random bits. */
export function generateApiKey(id: string, scopes: string[]): { key: string; entry: ApiKey } {
  const key = KEY_PREFIX + randomBytes(32).toString('base64url')
  return { key, entry: { id, hash: hashKey(key), scopes } }
}

/** Parses the `API_KEYS` JSON (or a secret holding the same). Throws on anything it cannot use, naming the entry. */
export function parseApiKeys(raw: string, source: string): ApiKey[] {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    throw new ApiKeysError(`${source} is not valid JSON`)
  }
  if (!Array.isArray(value)) throw new ApiKeysError(`${source} must be a JSON array of {id, hash, scopes}`)
  const ids = new Set<string>()
  return value.map((entry: unknown, i) => {
    const e = entry as Partial<ApiKey> | null
    if (typeof e !== 'object' || e === null) throw new ApiKeysError(`${source}[${i}] must be an object`)
    if (typeof e.id !== 'string' || e.id === '' || e.id.length > 128)
      throw new ApiKeysError(`${source}[${i}].id must be a non-empty string`)
    if (ids.has(e.id)) throw new ApiKeysError(`${source}[${i}].id ${JSON.stringify(e.id)} is used twice`)
    ids.add(e.id)
    if (typeof e.hash !== 'string' || !HASH.test(e.hash))
      throw new ApiKeysError(`${source}[${i}].hash must be "sha256:" and 64 lower-case hex digits`)
    if (!Array.isArray(e.scopes) || !e.scopes.every(s => typeof s === 'string' && isValidScope(s))) {
      throw new ApiKeysError(
        `${source}[${i}].scopes must be a list of scopes such as "users:read" or "projects:*:write"`
      )
    }
    return { id: e.id, hash: e.hash, scopes: [...e.scopes] }
  })
}

/** Looks a presented key up by its hash, comparing against every entry in constant time. */
export class ApiKeyStore {
  private readonly entries: Array<{ key: ApiKey; digest: Buffer }>

  constructor(keys: readonly ApiKey[]) {
    this.entries = keys.map(key => ({ key, digest: Buffer.from(key.hash.slice('sha256:'.length), 'hex') }))
  }

  get size(): number {
    return this.entries.length
  }

  find(presented: string): ApiKey | undefined {
    const digest = createHash('sha256').update(presented, 'utf8').digest()
    let found: ApiKey | undefined
    // No early exit: the time taken says nothing about which entry, if any, matched.
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, digest) && found === undefined) found = entry.key
    }
    return found
  }
}
