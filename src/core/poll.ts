/**
 * The one wait of the service: ask again and again until there is an answer,
 * the time is up or the caller gave up.
 */
import { setTimeout as sleep } from 'node:timers/promises'

export interface PollOptions {
  /** The pause between two checks. */
  intervalMs: number
  /** When given, each pause doubles up to this. */
  maxIntervalMs?: number
  /** How long to keep asking; without it, until the check answers. */
  timeoutMs?: number
  /** Aborted: no further check is started (a pause under way ends first). */
  signal?: AbortSignal
}

/**
 * Calls `check` until it returns something other than `undefined` and resolves
 * with that, or with `undefined` once `timeoutMs` has passed or `signal` is
 * aborted. The last check runs at the deadline, never a pause past it.
 */
export async function poll<T>(check: () => Promise<T | undefined>, options: PollOptions): Promise<T | undefined> {
  const deadline = Date.now() + (options.timeoutMs ?? Infinity)
  let interval = options.intervalMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() >= deadline || options.signal?.aborted === true) return undefined
    await sleep(Math.max(0, Math.min(interval, deadline - Date.now())))
    if (options.maxIntervalMs !== undefined) interval = Math.min(options.maxIntervalMs, interval * 2)
  }
}
