/**
 * Everything the Obsidian Sync client can fail with. Messages say what
 * happened and what to do; they never hold a password, token, TOTP secret,
 * key or a vault's content.
 */
export type ObsidianErrorCode =
  /** Sign-in refused the email or password. */
  | 'BAD_CREDENTIALS'
  /** The account has two-factor authentication and no TOTP secret was configured. */
  | 'MFA_REQUIRED'
  /** A code was sent and refused: the TOTP secret is wrong, or the clock is off. */
  | 'MFA_INVALID'
  /** The token is not (or no longer) valid. */
  | 'NOT_LOGGED_IN'
  | 'VAULT_NOT_FOUND'
  /** The sync server refused the vault session (`init`) for a reason of its own, in its words; not the key. */
  | 'ACCESS_DENIED'
  /** The vault's encryption password does not derive the key the service holds for it. */
  | 'WRONG_ENCRYPTION_PASSWORD'
  | 'SUBSCRIPTION_REQUIRED'
  | 'UNSUPPORTED_ENCRYPTION'
  /** The service answered with an error the client does not know, or an HTTP error. */
  | 'SERVICE_ERROR'
  /** The service could not be reached, or the connection broke. */
  | 'NETWORK'
  /** The service stopped answering within the configured time. */
  | 'TIMEOUT'
  /** The service sent something outside the protocol (malformed, unexpected, over a limit). */
  | 'PROTOCOL'
  /** A file's content, tag, path or hash does not decrypt or does not match. */
  | 'INTEGRITY'
  /** A file or message is larger than the configured limit. */
  | 'TOO_LARGE'
  /** A pulled version of a file turned out to be a deletion. */
  | 'FILE_GONE'
  /** The sync server refused an upload, in its words (a file too large, a vault over its limit …). */
  | 'REFUSED'

const RETRYABLE = new Set<ObsidianErrorCode>(['NETWORK', 'TIMEOUT', 'SERVICE_ERROR'])

export class ObsidianError extends Error {
  override name = 'ObsidianError'
  /** True when trying again later may succeed: the network or the service, not the settings or the data. */
  readonly retryable: boolean

  constructor(
    readonly code: ObsidianErrorCode,
    message: string,
    options?: { cause?: unknown }
  ) {
    super(message, options)
    this.retryable = RETRYABLE.has(code)
  }
}
