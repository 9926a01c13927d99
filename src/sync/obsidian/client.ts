import { randomBytes } from 'node:crypto'
import { ObsidianApi, type Account, type Credentials, type VaultInfo } from './api.ts'
import { ObsidianError } from './errors.ts'
import { silentLog } from './log.ts'
import { VaultSession, type ConnectionLimits } from './session.ts'
import { vaultCipher, type VaultCipher } from './vault-cipher.ts'

export interface ObsidianClientOptions extends ConnectionLimits {
  /** OBSIDIAN_API_URL (default https://api.obsidian.md). */
  apiUrl?: string
  /** The name this client gives the service as its device. */
  device?: string
}

export interface OpenVaultOptions {
  token: string
  vault: Pick<VaultInfo, 'id' | 'host' | 'salt' | 'encryptionVersion' | 'password'>
  /**
   * The vault's encryption password (default: the one the service lists for a
   * standard-encryption vault); or `cipher`, derived once with `cipherFor`.
   */
  password?: string
  cipher?: VaultCipher
  /** The last version fully applied (default 0). */
  version?: number
  /** The vault's current files instead of changes (default: version 0). */
  initial?: boolean
}

export interface CreateVaultOptions {
  token: string
  name: string
  /** End-to-end: the key comes from `password`, which the service never sees. Standard: from the service's. */
  encryption: 'end-to-end' | 'standard'
  /** The new vault's encryption password; end-to-end only. */
  password?: string
  /** Where the service keeps it (its default when absent). */
  region?: string
}

/** A vault just created: its entry in the vault list, and its keys. Neither may be logged or stored whole. */
export interface CreatedVault {
  vault: VaultInfo
  cipher: VaultCipher
}

export const DEFAULT_API_URL = 'https://api.obsidian.md'

/**
 * A client of Obsidian Sync: sign in, list and create vaults, and open a
 * session on a vault that streams its changes, pulls its files (decrypted
 * and checked) and uploads files and folders.
 */
export class ObsidianClient {
  readonly api: ObsidianApi
  private readonly options: ObsidianClientOptions

  constructor(options: ObsidianClientOptions = {}) {
    this.options = options
    this.api = new ObsidianApi({
      apiUrl: options.apiUrl ?? DEFAULT_API_URL,
      timeoutMs: Math.min(options.timeoutMs ?? 30_000, 30_000),
      log: options.log
    })
  }

  async signIn(credentials: Credentials): Promise<Account> {
    return await this.api.signIn(credentials)
  }

  async vaults(token: string): Promise<VaultInfo[]> {
    return await this.api.vaults(token)
  }

  /** The vault's keys: scrypt makes this take a moment, so derive once per vault and reuse. */
  async cipherFor(vault: Pick<VaultInfo, 'salt' | 'encryptionVersion'>, password: string): Promise<VaultCipher> {
    return await vaultCipher(password, vault.salt, vault.encryptionVersion)
  }

  /**
   * Creates a new vault (encryption version 3) and returns it with its keys,
   * ready for `openVault({token, vault, cipher})`. End-to-end: a fresh random
   * salt, and the keyhash of `password` with it, are what the service gets.
   * Standard: the service makes the password, and its vault list carries it.
   * The vault is found in the list by the id the service answered, else as
   * the one new since before the creation with that name (and that salt).
   */
  async createVault(options: CreateVaultOptions): Promise<CreatedVault> {
    const endToEnd = options.encryption === 'end-to-end'
    if (endToEnd && !options.password) throw new Error('An end-to-end vault needs an encryption password')
    const before = new Set((await this.vaults(options.token)).map(v => v.id))
    const salt = endToEnd ? randomBytes(16).toString('hex') : undefined
    const keys = salt === undefined ? undefined : await vaultCipher(options.password!, salt, 3)
    const { id } = await this.api.createVault(options.token, {
      name: options.name,
      keyhash: keys?.keyhash,
      salt,
      region: options.region
    })
    const after = await this.vaults(options.token)
    const vault =
      id === undefined
        ? after.find(v => !before.has(v.id) && v.name === options.name && (salt === undefined || v.salt === salt))
        : after.find(v => v.id === id)
    if (vault === undefined) throw new ObsidianError('PROTOCOL', 'The vault just created is not in the vault list')
    if (!endToEnd && vault.password === undefined)
      throw new ObsidianError('PROTOCOL', 'The standard vault just created is listed without its password')
    return { vault, cipher: keys ?? (await this.cipherFor(vault, vault.password!)) }
  }

  /** Checks the vault's key with the service (/vault/access), then connects and sends `init`. */
  async openVault(options: OpenVaultOptions): Promise<VaultSession> {
    const cipher =
      options.cipher ?? (await this.cipherFor(options.vault, options.password ?? options.vault.password ?? ''))
    await this.api.access(options.token, options.vault, cipher.keyhash, cipher.encryptionVersion)
    const version = options.version ?? 0
    return await VaultSession.open({
      url: this.api.socketUrl(options.vault),
      token: options.token,
      vaultId: options.vault.id,
      cipher,
      version,
      initial: options.initial ?? version === 0,
      device: this.options.device ?? 'atlas-api',
      timeoutMs: this.options.timeoutMs,
      pingIntervalMs: this.options.pingIntervalMs,
      idleTimeoutMs: this.options.idleTimeoutMs,
      connectTimeoutMs: this.options.connectTimeoutMs,
      maxFileBytes: this.options.maxFileBytes,
      log: this.options.log ?? silentLog
    })
  }
}
