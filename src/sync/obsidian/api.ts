/**
 * Obsidian Sync's REST API: sign-in, the account's vaults, the creation of
 * one, and the check of a vault's key. Every call is a POST of JSON with our User-Agent; the service
 * answers errors as HTTP 200 with `{error}`, which become typed errors here.
 * Sign-in goes as Obsidian's own client sends it: an OPTIONS preflight, then
 * the POST with `Origin: https://obsidian.md` (a service that checks the
 * origin answers a request without it as if the password were wrong).
 */
import { ObsidianError, type ObsidianErrorCode } from './errors.ts'
import { silentLog, type ClientLog } from './log.ts'
import { quote, REFUSAL_MESSAGES, refusalCode } from './refusal.ts'
import { totpCode } from './totp.ts'
import { USER_AGENT } from './user-agent.ts'

export { quote } from './refusal.ts'

/** The origin Obsidian's own client signs in from. */
export const SIGN_IN_ORIGIN = 'https://obsidian.md'

export interface Credentials {
  email: string
  password: string
  /** Base32 TOTP secret, for accounts with two-factor authentication. */
  totpSecret?: string
}

export interface Account {
  token: string
  email: string
  name: string
}

export interface VaultInfo {
  id: string
  name: string
  /** Where its sync server is: `sync-12.obsidian.md`, or `host:port`. */
  host: string
  salt: string
  encryptionVersion: number
  /** Bytes the service holds for it, as it reports. */
  size: number
  /** Shared with this account by another. */
  shared: boolean
  /**
   * A standard-encryption (managed) vault's password, as the service lists it
   * beside the salt: its key comes from it exactly as from an end-to-end
   * password. Undefined for end-to-end vaults. Not enumerable, so no JSON or
   * log line of a VaultInfo carries it; never store or return it.
   */
  readonly password?: string
}

export interface ObsidianApiOptions {
  /** OBSIDIAN_API_URL: https://api.obsidian.md, or a local stand-in over http. */
  apiUrl: string
  /** Per request (default 30 s). */
  timeoutMs?: number
  log?: ClientLog
}

const MAX_RESPONSE_BYTES = 4 * 1024 * 1024
const VAULT_ID = /^[A-Za-z0-9_.-]{1,128}$/
const HOST = /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$/

/** What the service's error text means: known words first, else what a refusal of that call is. */
function classify(text: string, path: string, sentMfa: boolean): ObsidianErrorCode {
  const code = refusalCode(text)
  if (code === 'MFA_REQUIRED' && sentMfa) return 'MFA_INVALID'
  if (code !== undefined) return code
  if (path === '/user/signin') return 'BAD_CREDENTIALS'
  // The service's verdict on the key the password derived.
  if (path === '/vault/access') return 'WRONG_ENCRYPTION_PASSWORD'
  return 'SERVICE_ERROR'
}

export class ObsidianApi {
  readonly apiUrl: string
  private readonly timeoutMs: number
  private readonly log: ClientLog

  constructor(options: ObsidianApiOptions) {
    const url = new URL(options.apiUrl)
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('The Obsidian API URL must be http(s)')
    this.apiUrl = url.toString().replace(/\/$/, '')
    this.timeoutMs = options.timeoutMs ?? 30_000
    this.log = options.log ?? silentLog
  }

  /** Signs in, with the current TOTP code when a secret is given. */
  async signIn(credentials: Credentials): Promise<Account> {
    const mfa = credentials.totpSecret ? totpCode(credentials.totpSecret) : ''
    await this.preflight('/user/signin')
    const body = await this.post(
      '/user/signin',
      { email: credentials.email, password: credentials.password, mfa },
      mfa !== '',
      { origin: SIGN_IN_ORIGIN }
    )
    if (typeof body.token !== 'string' || body.token === '')
      throw new ObsidianError('PROTOCOL', 'Sign-in answered without a token')
    return {
      token: body.token,
      email: typeof body.email === 'string' ? body.email : credentials.email,
      name: typeof body.name === 'string' ? body.name : ''
    }
  }

  async user(token: string): Promise<{ email: string; name: string }> {
    const body = await this.post('/user/info', { token })
    return { email: String(body.email ?? ''), name: String(body.name ?? '') }
  }

  /** The account's vaults and those shared with it. Entries that are not usable are left out, with a warning. */
  async vaults(token: string): Promise<VaultInfo[]> {
    const body = await this.post('/vault/list', { token, supported_encryption_version: 3 })
    const own = Array.isArray(body.vaults) ? body.vaults : []
    const shared = Array.isArray(body.shared) ? body.shared : []
    return [...own.map(v => this.vault(v, false)), ...shared.map(v => this.vault(v, true))].filter(v => v !== undefined)
  }

  /**
   * Creates a vault (`/vault/create`, encryption version 3), as the official
   * client does: with a `keyhash` and a `salt`, an end-to-end vault whose key
   * only its password derives; with neither, a standard one, whose password
   * and salt the service makes and its vault list then carries. The new
   * vault's id, when the answer says it.
   */
  async createVault(
    token: string,
    vault: { name: string; keyhash?: string; salt?: string; region?: string }
  ): Promise<{ id: string | undefined }> {
    const keys = vault.keyhash === undefined ? {} : { keyhash: vault.keyhash, salt: vault.salt }
    const body = await this.post('/vault/create', {
      token,
      name: vault.name,
      ...keys,
      ...(vault.region === undefined ? {} : { region: vault.region }),
      encryption_version: 3
    })
    return { id: typeof body.id === 'string' && VAULT_ID.test(body.id) ? body.id : undefined }
  }

  /**
   * Asks the service whether `keyhash` is the vault's key, as Obsidian's own
   * client does before it connects: a wrong password is then the service's
   * verdict (WRONG_ENCRYPTION_PASSWORD, with its words), not a guess from how
   * `init` refused.
   */
  async access(
    token: string,
    vault: Pick<VaultInfo, 'id' | 'host'>,
    keyhash: string,
    encryptionVersion: number
  ): Promise<void> {
    await this.post('/vault/access', {
      token,
      vault_uid: vault.id,
      keyhash,
      host: vault.host,
      encryption_version: encryptionVersion
    })
  }

  /** Where a vault's WebSocket is: wss, or ws when the API itself is plain http (a local stand-in). */
  socketUrl(vault: Pick<VaultInfo, 'host'>): string {
    const secure = this.apiUrl.startsWith('https:')
    // A host from the service is input too: on the real service it must be one of its own.
    if (
      secure &&
      new URL(this.apiUrl).hostname.endsWith('obsidian.md') &&
      !/(^|\.)obsidian\.md(:\d+)?$/.test(vault.host)
    ) {
      throw new ObsidianError('PROTOCOL', `Vault host ${quote(vault.host)} is not an obsidian.md host`)
    }
    return `${secure ? 'wss' : 'ws'}://${vault.host}/`
  }

  private vault(raw: unknown, shared: boolean): VaultInfo | undefined {
    const v = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>
    const usable =
      typeof v.id === 'string' &&
      VAULT_ID.test(v.id) &&
      typeof v.host === 'string' &&
      HOST.test(v.host) &&
      typeof v.salt === 'string' &&
      v.salt.length <= 1024 &&
      Number.isInteger(v.encryption_version)
    if (!usable) {
      this.log.warn(
        { vaultId: typeof v.id === 'string' ? v.id.slice(0, 128) : undefined },
        'vault list entry left out: missing or malformed fields'
      )
      return undefined
    }
    const info: VaultInfo = {
      id: v.id as string,
      name: typeof v.name === 'string' ? v.name.slice(0, 1024) : '',
      host: v.host as string,
      salt: v.salt as string,
      encryptionVersion: v.encryption_version as number,
      size: Number.isSafeInteger(v.size) ? (v.size as number) : 0,
      shared
    }
    if (typeof v.password === 'string' && v.password !== '' && v.password.length <= 1024)
      Object.defineProperty(info, 'password', { value: v.password, enumerable: false })
    return info
  }

  /** The CORS preflight a browser-like client sends before a request with an Origin; its answer does not matter. */
  private async preflight(path: string): Promise<void> {
    const res = await this.request(path, {
      method: 'OPTIONS',
      headers: {
        'user-agent': USER_AGENT,
        origin: SIGN_IN_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type'
      }
    })
    await res.body?.cancel()
  }

  private async post(
    path: string,
    payload: Record<string, unknown>,
    sentMfa = false,
    headers: Record<string, string> = {}
  ): Promise<Record<string, unknown>> {
    const res = await this.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...headers },
      body: JSON.stringify(payload)
    })
    const text = await readLimited(res, MAX_RESPONSE_BYTES, path)
    if (!res.ok) throw new ObsidianError('SERVICE_ERROR', `Obsidian's API answered ${path} with HTTP ${res.status}`)
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      throw new ObsidianError('PROTOCOL', `Obsidian's API answered ${path} with something other than JSON`)
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new ObsidianError('PROTOCOL', `Obsidian's API answered ${path} with no object`)
    const error = (body as { error?: unknown }).error
    if (error !== undefined && error !== null && error !== '') {
      const said = String(error)
      const code = classify(said, path, sentMfa)
      this.log.debug({ path, code }, 'Obsidian API refused a request')
      throw new ObsidianError(code, refusalMessage(code, path, said))
    }
    return body as Record<string, unknown>
  }

  /** Ends the session `token` stands for (`POST /user/signout` on the sign-in host), as the official client does. */
  async signOut(token: string): Promise<void> {
    await this.post('/user/signout', { token })
  }

  private async request(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.apiUrl}${path}`, {
        ...init,
        redirect: 'error',
        signal: AbortSignal.timeout(this.timeoutMs)
      })
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError'
      throw new ObsidianError(
        timedOut ? 'TIMEOUT' : 'NETWORK',
        timedOut
          ? `Obsidian's API did not answer ${path} within ${this.timeoutMs} ms`
          : `Obsidian's API could not be reached for ${path}`,
        { cause: err }
      )
    }
  }
}

function refusalMessage(code: ObsidianErrorCode, path: string, said: string): string {
  if (code === 'WRONG_ENCRYPTION_PASSWORD')
    return `Obsidian refused the vault's key (${quote(said)}): check its encryption password`
  if (code === 'SERVICE_ERROR') return `Obsidian's API refused ${path}: ${quote(said)}`
  return REFUSAL_MESSAGES[code] ?? `Obsidian's API refused ${path}: ${quote(said)}`
}

async function readLimited(res: Response, limit: number, path: string): Promise<string> {
  const chunks: Uint8Array[] = []
  let total = 0
  try {
    for await (const chunk of res.body ?? []) {
      total += chunk.length
      if (total > limit) {
        await res.body?.cancel()
        throw new ObsidianError('TOO_LARGE', `Obsidian's API answer to ${path} is over ${limit} bytes`)
      }
      chunks.push(chunk)
    }
  } catch (err) {
    if (err instanceof ObsidianError) throw err
    throw new ObsidianError('NETWORK', `The connection broke while reading Obsidian's answer to ${path}`, {
      cause: err
    })
  }
  return Buffer.concat(chunks).toString('utf8')
}
