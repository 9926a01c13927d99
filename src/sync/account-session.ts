/**
 * Signing in to the Obsidian account as one careful client would: a run signs
 * in once (its token travels with its continuations) and out at its end, and
 * no two sign-ins of this process send the same two-factor code. The service
 * takes a code once, so a second sign-in in the same 30 s window would be
 * refused as a wrong code: it waits for the next window instead.
 */
import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { ObsidianError, type Credentials, type ObsidianClient, type VaultInfo } from './obsidian/index.ts'
import { OBSIDIAN_RETRY } from './obsidian-retry.ts'
import { withRetries } from '../core/retry.ts'

const TOTP_PERIOD_MS = 30_000
/** Past the window's edge, for clocks a little apart. */
const WINDOW_MARGIN_MS = 1000

export class SignIns {
  /** By a hash of the email and TOTP secret: the last 30 s window a code was sent in. */
  private readonly lastWindow = new Map<string, number>()

  /** How long until a sign-in with `credentials` may send a code this process has not sent (0 without TOTP). */
  waitMs(credentials: Credentials, now = Date.now()): number {
    if (!credentials.totpSecret) return 0
    const used = this.lastWindow.get(keyOf(credentials))
    if (used === undefined || used < Math.floor(now / TOTP_PERIOD_MS)) return 0
    return (used + 1) * TOTP_PERIOD_MS - now + WINDOW_MARGIN_MS
  }

  /** A token for the account, after waiting (at most a window) for a fresh two-factor code when needed. */
  async signIn(client: ObsidianClient, credentials: Credentials): Promise<string> {
    return await withRetries(async () => {
      const wait = this.waitMs(credentials)
      if (wait > 0) await sleep(wait)
      if (credentials.totpSecret) this.lastWindow.set(keyOf(credentials), Math.floor(Date.now() / TOTP_PERIOD_MS))
      return (await client.signIn(credentials)).token
    }, OBSIDIAN_RETRY)
  }

  /**
   * A run's Obsidian session and the account's vaults: with the token an earlier slice signed in to, or, the
   * first time (or once that token is no longer valid), after signing in.
   */
  async session(
    client: ObsidianClient,
    credentials: Credentials,
    carried: string | undefined
  ): Promise<{ token: string; vaults: VaultInfo[] }> {
    if (carried !== undefined) {
      try {
        return { token: carried, vaults: await withRetries(() => client.vaults(carried), OBSIDIAN_RETRY) }
      } catch (err) {
        if (!(err instanceof ObsidianError) || err.code !== 'NOT_LOGGED_IN') throw err
      }
    }
    const token = await this.signIn(client, credentials)
    return { token, vaults: await withRetries(() => client.vaults(token), OBSIDIAN_RETRY) }
  }

  /** Ends the session; one that fails to end only lingers on the service until it expires. */
  async signOut(client: ObsidianClient, token: string, log: Logger): Promise<void> {
    try {
      await client.api.signOut(token)
    } catch (err) {
      if (!(err instanceof ObsidianError)) throw err
      log.warn({ code: err.code }, 'sync: signing out of the Obsidian account failed')
    }
  }
}

const keyOf = (credentials: Credentials): string =>
  createHash('sha256')
    .update(`${credentials.email}\n${credentials.totpSecret ?? ''}`)
    .digest('hex')
