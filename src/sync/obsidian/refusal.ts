/**
 * What the service's refusals mean, by the words they use: the REST API's
 * `{error}` and a sync server's `init` refusal alike. The strings are those
 * Obsidian's own client matches ("2FA code", "2FA code is incorrect", "Your
 * subscription to Obsidian Sync has expired", "Vault not found"), with a
 * little room around them.
 */
import type { ObsidianErrorCode } from './errors.ts'

/** Service text in a message: short, one line, no control characters. */
export const quote = (text: string): string => JSON.stringify(text.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 200)) // eslint-disable-line no-control-regex

/** The code the words name, or undefined when they name none of those known. */
export function refusalCode(text: string): ObsidianErrorCode | undefined {
  if (/2fa code is incorrect|invalid 2fa|incorrect 2fa/i.test(text)) return 'MFA_INVALID'
  if (/2fa|two.?factor|\bmfa\b|one.?time|authenticator/i.test(text)) return 'MFA_REQUIRED'
  if (/not logged in|invalid token|expired token/i.test(text)) return 'NOT_LOGGED_IN'
  if (/vault not found/i.test(text)) return 'VAULT_NOT_FOUND'
  if (/subscription/i.test(text)) return 'SUBSCRIPTION_REQUIRED'
  // Not the request's fault: the same request may well be accepted later. (Not "try again": a refused password
  // may say that too, and retrying one is how accounts get locked.)
  if (/busy|maintenance|overloaded|temporarily unavailable/i.test(text)) return 'SERVICE_ERROR'
  return undefined
}

/** What each known refusal tells the reader to do. */
export const REFUSAL_MESSAGES: Partial<Record<ObsidianErrorCode, string>> = {
  BAD_CREDENTIALS: 'Obsidian refused the email or password',
  MFA_REQUIRED: 'The Obsidian account has two-factor authentication: configure its TOTP secret',
  MFA_INVALID: 'Obsidian refused the two-factor code: check the TOTP secret and the clock',
  NOT_LOGGED_IN: 'The Obsidian session is not valid; sign in again',
  VAULT_NOT_FOUND: 'The vault does not exist or this account cannot reach it',
  SUBSCRIPTION_REQUIRED: 'The Obsidian account has no active Sync subscription'
}
