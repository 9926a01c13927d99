import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Run, VaultProgress } from '../repositories/sync-runs.ts'
import type { VaultState } from '../repositories/sync-vaults.ts'
import { errorResponses } from '../schemas/common.ts'
import { SYNC_READ, SYNC_RUN } from './sync-scopes.ts'
import { answerStarted } from './started-run.ts'
import {
  DownloadFileQuery,
  FileDownload,
  FileList,
  ListFilesQuery,
  ListRunsQuery,
  RunDetail,
  RunList,
  RunParams,
  RunQueued,
  StartSyncBody,
  StartSyncQuery,
  SyncBusy,
  SyncResponse,
  VaultList,
  VaultParams
} from '../schemas/sync.ts'
import { requestCredentials } from '../sync/account.ts'
import { syncRunNotFound } from '../sync/run-service.ts'
import type { VaultInfo } from '../sync/obsidian/index.ts'

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString())

function runSummary(r: Run) {
  return {
    run_id: r.runId,
    status: r.status,
    sync_type: r.syncType,
    trigger: r.trigger,
    vault_id: r.vaultId ?? null,
    dest_bucket: r.destBucket,
    dest_prefix: r.destPrefix,
    created_at: new Date(r.createdAt).toISOString(),
    started_at: iso(r.startedAt),
    finished_at: iso(r.finishedAt),
    hops: r.hops
  }
}

const VAULT_STATUS = { ok: 'succeeded', errors: 'partial', failed: 'failed', busy: 'skipped' } as const

function vaultProgress(p: VaultProgress) {
  return {
    vault_id: p.vaultId,
    name: p.name ?? null,
    status: p.outcome === undefined ? ('running' as const) : VAULT_STATUS[p.outcome],
    files_seen: p.seen ?? 0,
    files_pulled: p.pulled ?? 0,
    files_skipped: p.skipped ?? 0,
    files_deleted: p.deleted ?? 0,
    bytes: p.bytes ?? 0,
    error_count: p.errors ?? 0,
    errors: p.messages
  }
}

function vaultRow({ vault, state }: { vault?: VaultInfo; state?: VaultState }) {
  return {
    vault_id: vault?.id ?? state!.vaultId,
    name: vault?.name ?? state?.name ?? null,
    shared: vault?.shared ?? null,
    dest_bucket: state?.destBucket ?? null,
    dest_prefix: state?.destPrefix ?? null,
    last_synced_version: state?.version ?? null,
    last_success_at: iso(state?.lastSuccessAt),
    last_attempt_at: iso(state?.lastAttemptAt),
    last_run_id: state?.lastRunId ?? null,
    file_count: state?.fileCount ?? 0,
    last_error: state?.lastError ?? null
  }
}

/** /sync: Obsidian vaults backed up into S3, runs recorded in DynamoDB. Thin handlers: app.sync does the work. */
const syncRoutes: FastifyPluginAsyncTypebox = async app => {
  const { runs: runService, vaults, history } = app.sync

  app.post(
    '/sync',
    {
      config: SYNC_RUN,
      schema: {
        tags: ['sync'],
        summary: 'Back up one vault or every vault of the account into S3',
        description:
          'Records a run and starts it outside the request. 202 with its id (poll GET /sync/runs/{run_id}); with ?wait=, 200 and the result if it ends in time. Credentials in the body serve this run only and are never stored.',
        querystring: StartSyncQuery,
        body: StartSyncBody,
        response: {
          200: SyncResponse,
          202: { ...RunQueued, headers: { Location: { type: 'string' } } },
          ...errorResponses(400, 403),
          409: SyncBusy
        }
      }
    },
    async (request, reply) => {
      const body = request.body
      const credentials = requestCredentials(body)
      // A vault another run holds throws SyncBusyError: the error handler answers its 409, run_id and Location.
      const started = await runService.start({
        vaultId: body.vault_id,
        syncType: body.sync_type,
        destBucket: body.dest_bucket,
        destPrefix: body.dest_prefix,
        credentials,
        trigger: 'api'
      })
      return await answerStarted(reply, started, {
        waitSeconds: request.query.wait,
        waitFor: (id, ms) => runService.waitFor(id, ms),
        ended: run => run.result,
        location: `/sync/runs/${started.runId}`,
        queued: { run_id: started.runId }
      })
    }
  )

  app.get(
    '/sync/runs',
    {
      config: SYNC_READ,
      schema: {
        tags: ['sync'],
        summary: 'Sync runs, newest first',
        querystring: ListRunsQuery,
        response: { 200: RunList, ...errorResponses(400) }
      }
    },
    async request => {
      const { runs, cursor } = await runService.list(request.query.limit ?? 20, request.query.cursor)
      return { runs: runs.map(runSummary), cursor }
    }
  )

  app.get(
    '/sync/runs/:run_id',
    {
      config: SYNC_READ,
      schema: {
        tags: ['sync'],
        summary: "A run's status, per-vault progress and, once it has ended, its result",
        params: RunParams,
        response: { 200: RunDetail, ...errorResponses(400, 404) }
      }
    },
    async request => {
      const found = await runService.get(request.params.run_id)
      if (found === undefined) throw syncRunNotFound(request.params.run_id)
      return {
        ...runSummary(found.run),
        vaults: found.progress.map(vaultProgress),
        result: found.run.result ?? null
      }
    }
  )

  app.get(
    '/sync/vaults',
    {
      config: SYNC_READ,
      schema: {
        tags: ['sync'],
        summary: "The account's vaults and what is known of their backups",
        description:
          'Every vault of the configured account (when there is one) with its state at each destination it was synced to, and every state recorded for vaults the account does not list.',
        response: { 200: VaultList, ...errorResponses() }
      }
    },
    async () => ({ vaults: (await vaults.vaults()).map(vaultRow) })
  )

  app.get(
    '/sync/vaults/:vault_id/files',
    {
      config: SYNC_READ,
      schema: {
        tags: ['sync'],
        summary: "A vault's backed-up files, by path; with as_of, as the backup held them at that moment",
        params: VaultParams,
        querystring: ListFilesQuery,
        response: { 200: FileList, ...errorResponses(400, 403) }
      }
    },
    async request => {
      const { prefix, limit, cursor, as_of: asOf, dest_bucket: destBucket, dest_prefix: destPrefix } = request.query
      if (asOf !== undefined)
        return await history.files(request.params.vault_id, { destBucket, destPrefix, prefix, limit, cursor, asOf })
      const page = await vaults.files(request.params.vault_id, { destBucket, destPrefix, prefix, limit, cursor })
      return {
        files: page.files.map(f => ({
          path: f.path,
          size: f.size,
          sha256: f.sha256,
          mtime: f.mtime,
          s3_key: f.s3Key,
          version_id: f.versionId ?? null
        })),
        cursor: page.cursor
      }
    }
  )

  app.get(
    '/sync/vaults/:vault_id/files/download',
    {
      config: SYNC_READ,
      schema: {
        tags: ['sync'],
        summary: "A presigned download URL of a backed-up file; with as_of, of that moment's bytes",
        params: VaultParams,
        querystring: DownloadFileQuery,
        response: { 200: FileDownload, ...errorResponses(400, 403, 404) }
      }
    },
    async request => {
      const { path, dest_bucket: destBucket, dest_prefix: destPrefix } = request.query
      if (request.query.as_of !== undefined)
        return await history.download(request.params.vault_id, path, {
          destBucket,
          destPrefix,
          asOf: request.query.as_of
        })
      return await vaults.download(request.params.vault_id, path, { destBucket, destPrefix })
    }
  )
}

export default syncRoutes
