/**
 * Obsidian Sync's REST API: sign-in and the account's vaults. Every call is a
 * POST of JSON; the service answers errors as HTTP 200 with `{error}`, which
 * become typed errors here.
 */
import { ObsidianError, type ObsidianErrorCode } from './errors.ts'
import { silentLog, type ClientLog } from './log.ts'
import { totpCode } from './totp.ts'

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

/** What the service's error text means, by the words its messages are known to use. */
function classify(text: string, path: string, sentMfa: boolean): ObsidianErrorCode {
  if (/2fa|two.?factor|\bmfa\b|one.?time|authenticator/i.test(text)) return sentMfa ? 'MFA_INVALID' : 'MFA_REQUIRED'
  if (/not logged in|invalid token|expired token/i.test(text)) return 'NOT_LOGGED_IN'
  if (/vault not found/i.test(text)) return 'VAULT_NOT_FOUND'
  if (/subscription/i.test(text)) return 'SUBSCRIPTION_REQUIRED'
  return path === '/user/signin' ? 'BAD_CREDENTIALS' : 'SERVICE_ERROR'
}

const MESSAGES: Partial<Record<ObsidianErrorCode, string>> = {
  BAD_CREDENTIALS: 'Obsidian refused the email or password',
  MFA_REQUIRED: 'The Obsidian account has two-factor authentication: configure its TOTP secret',
  MFA_INVALID: 'Obsidian refused the two-factor code: check the TOTP secret and the clock',
  NOT_LOGGED_IN: 'The Obsidian session is not valid; sign in again',
  VAULT_NOT_FOUND: 'The vault does not exist or this account cannot reach it',
  SUBSCRIPTION_REQUIRED: 'The Obsidian account has no active Sync subscription'
}

/** Service text in a message: short, one line, no control characters. */
export const quote = (text: string): string => JSON.stringify(text.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 200)) // eslint-disable-line no-control-regex

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
    const body = await this.post(
      '/user/signin',
      { email: credentials.email, password: credentials.password, mfa },
      mfa !== ''
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
    return {
      id: v.id as string,
      name: typeof v.name === 'string' ? v.name.slice(0, 1024) : '',
      host: v.host as string,
      salt: v.salt as string,
      encryptionVersion: v.encryption_version as number,
      size: Number.isSafeInteger(v.size) ? (v.size as number) : 0,
      shared
    }
  }

  private async post(
    path: string,
    payload: Record<string, unknown>,
    sentMfa = false
  ): Promise<Record<string, unknown>> {
    let res: Response
    try {
      res = await fetch(`${this.apiUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
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
      throw new ObsidianError(code, MESSAGES[code] ?? `Obsidian's API refused ${path}: ${quote(said)}`)
    }
    return body as Record<string, unknown>
  }

  /** Ends the session `token` stands for (`POST /user/signout` on the sign-in host), as the official client does. */
  async signOut(token: string): Promise<void> {
    await this.post('/user/signout', { token })
  }
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
