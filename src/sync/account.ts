/**
 * The Obsidian account a run signs in with: the one in the request, else the
 * configured one (OBSIDIAN_EMAIL …, or the JSON in OBSIDIAN_SECRET, read once
 * per container). Request credentials serve their run only: the engine keeps
 * them in memory and in its continuation events, never in storage or logs.
 */
import { ConfigError, parseVaultPasswords, type SyncAccountConfig } from '../config/config.ts'
import { InvalidInputError } from '../core/errors.ts'
import { readSecret, type SecretClients } from '../aws/secrets.ts'
import type { Credentials, VaultInfo } from './obsidian/index.ts'

/** What a POST /sync may carry for its run. */
export interface RunCredentials {
  email?: string
  password?: string
  totpSecret?: string
  vaultPassword?: string
}

/** A request body's account fields, as POST /sync and POST /sync/restores take them. */
export interface CredentialFields {
  email?: string
  password?: string
  totp_secret?: string
  vault_password?: string
}

/** The credentials a request brings for its run, or undefined; 400 when they cannot go together. */
export function requestCredentials(body: CredentialFields): RunCredentials | undefined {
  if ((body.email === undefined) !== (body.password === undefined))
    throw new InvalidInputError('SYNC_CREDENTIALS_INCOMPLETE', 'email and password go together: send both or neither')
  if (body.totp_secret !== undefined && body.email === undefined)
    throw new InvalidInputError('SYNC_CREDENTIALS_INCOMPLETE', 'totp_secret goes with email and password')
  if (body.email === undefined && body.vault_password === undefined) return undefined
  return {
    email: body.email,
    password: body.password,
    totpSecret: body.totp_secret,
    vaultPassword: body.vault_password
  }
}

export interface Account {
  credentials: Credentials
  /** One password for every vault of the run (from the request). */
  vaultPassword?: string
  /** Vault id or name -> encryption password. */
  vaultPasswords: Record<string, string>
}

export class AccountSettings {
  private secret: Promise<SyncAccountConfig> | undefined

  constructor(
    private readonly config: SyncAccountConfig,
    private readonly secrets: SecretClients
  ) {}

  /** True when a run without credentials of its own has an account to use. */
  get configured(): boolean {
    return (this.config.email !== undefined && this.config.password !== undefined) || this.config.secret !== undefined
  }

  async resolve(request: RunCredentials = {}): Promise<Account> {
    const configured = await this.configuredAccount()
    const own = request.email !== undefined && request.password !== undefined
    const email = own ? request.email : configured.email
    const password = own ? request.password : configured.password
    if (email === undefined || password === undefined) {
      throw new InvalidInputError(
        'SYNC_ACCOUNT_MISSING',
        'No Obsidian account: send email and password, or configure OBSIDIAN_EMAIL and OBSIDIAN_PASSWORD (or OBSIDIAN_SECRET)'
      )
    }
    return {
      credentials: { email, password, totpSecret: own ? request.totpSecret : configured.totpSecret },
      vaultPassword: request.vaultPassword,
      vaultPasswords: configured.vaultPasswords
    }
  }

  private async configuredAccount(): Promise<SyncAccountConfig> {
    if (this.config.secret === undefined) return this.config
    this.secret ??= this.readAccountSecret(this.config.secret).catch(err => {
      this.secret = undefined
      throw err
    })
    return await this.secret
  }

  private async readAccountSecret(name: string): Promise<SyncAccountConfig> {
    const { value, origin } = await readSecret(name, this.secrets)
    let parsed: Record<string, unknown>
    try {
      parsed = JSON.parse(value) as Record<string, unknown>
    } catch {
      throw new ConfigError(`${origin} must hold JSON: {"email", "password", "totp_secret"?, "vault_passwords"?}`)
    }
    const text = (key: string): string | undefined =>
      typeof parsed[key] === 'string' && parsed[key] !== '' ? (parsed[key] as string) : undefined
    const passwords = parsed.vault_passwords
    return {
      email: text('email') ?? this.config.email,
      password: text('password') ?? this.config.password,
      totpSecret: text('totp_secret') ?? this.config.totpSecret,
      vaultPasswords: {
        ...this.config.vaultPasswords,
        ...(passwords === undefined ? {} : parseVaultPasswords(JSON.stringify(passwords), `${origin} vault_passwords`))
      }
    }
  }
}

/**
 * The password a vault's key is derived from: the request's, else the one
 * configured for its id or name, else, for a standard-encryption vault, the
 * one the service lists (it is the vault's own). Undefined when an end-to-end
 * vault has none configured.
 */
export function vaultPasswordFor(
  account: Pick<Account, 'vaultPassword' | 'vaultPasswords'>,
  vault: Pick<VaultInfo, 'id' | 'name' | 'password'>
): string | undefined {
  return (
    account.vaultPassword ?? account.vaultPasswords[vault.id] ?? account.vaultPasswords[vault.name] ?? vault.password
  )
}
