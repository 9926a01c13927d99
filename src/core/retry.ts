/**
 * The one retry of the service: run some work again after a failure the
 * policy calls retryable, waiting an exponentially growing, capped and
 * jittered delay between attempts. The two policies in use are named below.
 */
import { setTimeout as sleep } from 'node:timers/promises'

/** How the delay is spread: `full` anywhere in [0, d), `half` in [d/2, d), `none` exactly d. */
export type Jitter = 'full' | 'half' | 'none'

export interface Backoff {
  /** The delay after the first failure, doubled after each further one. */
  baseMs: number
  /** The longest delay, before jitter. */
  capMs: number
  jitter?: Jitter
}

export interface RetryPolicy extends Backoff {
  /** Attempts in all, the first one included. */
  attempts: number
  /** Whether a failure is worth another attempt; any other fails at once. */
  retryable: (err: unknown) => boolean
}

/**
 * Calls to the Obsidian service: few attempts, seconds apart, half jitter so
 * a retry never comes back almost at once. `retryable` is the caller's.
 */
export const OBSIDIAN_BACKOFF = { attempts: 4, baseMs: 250, capMs: Infinity, jitter: 'half' } as const

/**
 * DynamoDB (unprocessed batch items, lost conditional writes): many quick
 * attempts with full jitter, so writers that lost a race or were throttled
 * spread out. Contention loops pass a smaller `capMs`.
 */
export const DYNAMODB_BACKOFF = { attempts: 10, baseMs: 2, capMs: 1000, jitter: 'full' } as const

/** The wait after `failures` failed attempts (0 waits nothing); `random` in [0, 1). */
export function retryDelay(failures: number, backoff: Backoff, random: () => number = Math.random): number {
  if (failures <= 0) return 0
  const delay = Math.min(backoff.capMs, backoff.baseMs * 2 ** (failures - 1))
  switch (backoff.jitter ?? 'full') {
    case 'full':
      return delay * random()
    case 'half':
      return delay * (0.5 + random() / 2)
    case 'none':
      return delay
  }
}

/** Waits the delay after `failures` failed attempts. */
export async function backoff(failures: number, policy: Backoff): Promise<void> {
  const ms = retryDelay(failures, policy)
  if (ms > 0) await sleep(ms)
}

/** Runs `work` up to `attempts` times while it fails retryably; the last failure, or any other, is thrown. */
export async function withRetries<T>(
  work: () => Promise<T>,
  policy: RetryPolicy,
  wait: (ms: number) => Promise<unknown> = sleep,
  random: () => number = Math.random
): Promise<T> {
  for (let failures = 0; ;) {
    try {
      return await work()
    } catch (err) {
      failures++
      if (failures >= policy.attempts || !policy.retryable(err)) throw err
      await wait(retryDelay(failures, policy, random))
    }
  }
}
