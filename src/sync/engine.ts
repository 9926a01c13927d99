/**
 * The sync engine's parts, each in its own file:
 *
 *   run-service.ts   start, read, list and wait for runs (POST /sync, GET /sync/runs, the schedule, the CLI)
 *   slice-runner.ts  a run's slices: sign in, sync its vaults until the deadline, launch the next, end it
 *   run-kinds.ts     what every kind of run shares: the slice runners by kind, launching, settling, waiting
 *   run-end.ts       how a run ends, whoever ends it
 *   vault-listing.ts the account's vaults beside their backups, and the backed-up files
 *
 * wired together by src/plugins/app/sync.ts. Here: what a start asks, and its refusal when the vault is busy.
 */
import { ConflictError } from '../core/errors.ts'
import type { RunTrigger, SyncType } from '../repositories/sync-runs.ts'
import type { RunCredentials } from './account.ts'

export interface StartRequest {
  vaultId?: string
  syncType: SyncType
  destBucket?: string
  destPrefix?: string
  credentials?: RunCredentials
  trigger: RunTrigger
}

/** A vault is being synced by another run: nothing was started. The 409 names that run, in its body and Location. */
export class SyncBusyError extends ConflictError {
  constructor(
    vaultId: string,
    readonly runId: string
  ) {
    super('SYNC_IN_PROGRESS', `Vault ${vaultId} is being synced by run ${runId}`, {
      details: { run_id: runId },
      headers: { location: `/sync/runs/${runId}` }
    })
  }
}
