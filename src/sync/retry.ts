import { setTimeout as sleep } from 'node:timers/promises'
import { ObsidianError } from './obsidian/index.ts'

const ATTEMPTS = 4
const BASE_MS = 250

/**
 * Runs `work`, trying again with exponential backoff while the failure is one
 * of the network or the service (by default); settings and data errors
 * (a wrong password, a refused code) fail at once.
 */
export async function withRetries<T>(
  work: () => Promise<T>,
  retryable: (err: unknown) => boolean = err => err instanceof ObsidianError && err.retryable
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work()
    } catch (err) {
      if (attempt >= ATTEMPTS || !retryable(err)) throw err
      await sleep(BASE_MS * 2 ** (attempt - 1) * (0.5 + Math.random() / 2))
    }
  }
}
