import { OBSIDIAN_BACKOFF, type RetryPolicy } from '../core/retry.ts'
import { ObsidianError } from './obsidian/errors.ts'

/**
 * Calls to the service, retried while the failure is one of the network or the
 * service; settings and data errors (a wrong password, a refused code) fail at once.
 */
export const OBSIDIAN_RETRY: RetryPolicy = {
  ...OBSIDIAN_BACKOFF,
  retryable: err => err instanceof ObsidianError && err.retryable
}
