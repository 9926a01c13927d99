import { Secret, TOTP } from 'otpauth'
import { ObsidianError } from './errors.ts'

/** The current RFC 6238 code (6 digits, 30 s, SHA-1) for a base32 secret, as authenticator apps show it. */
export function totpCode(secretBase32: string, now: number = Date.now()): string {
  let secret: Secret
  try {
    secret = Secret.fromBase32(secretBase32.replace(/[\s-]/g, '').toUpperCase())
  } catch {
    throw new ObsidianError('MFA_INVALID', 'The TOTP secret is not valid base32')
  }
  return new TOTP({ secret, algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: now })
}
