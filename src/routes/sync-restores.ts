import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Restore } from '../repositories/sync-restores.ts'
import { errorResponses } from '../schemas/common.ts'
import { SYNC_READ, SYNC_RESTORE } from './sync-scopes.ts'
import { answerStarted } from './started-run.ts'
import {
  RestoreDetail,
  RestoreParams,
  RestoreQueued,
  StartRestoreBody,
  StartRestoreQuery
} from '../schemas/sync-restores.ts'
import { requestCredentials } from '../sync/account.ts'
import { parseAsOf } from '../sync/as-of.ts'
import { syncRestoreNotFound, totalsOf } from '../sync/restore-service.ts'

function restoreDetail(r: Restore) {
  return {
    restore_id: r.runId,
    status: r.status,
    vault_id: r.vaultId,
    as_of: new Date(r.asOf).toISOString(),
    dry_run: r.dryRun,
    target_vault_id: r.targetVaultId ?? null,
    ...totalsOf(r),
    messages: r.errors,
    hops: r.hops
  }
}

/** /sync/restores: a backup at a moment, uploaded into a new Obsidian vault. Thin handlers: app.sync.restores works. */
const syncRestoresRoutes: FastifyPluginAsyncTypebox = async app => {
  const restores = app.sync.restores

  app.post(
    '/sync/restores',
    {
      config: SYNC_RESTORE,
      schema: {
        tags: ['sync'],
        summary: 'Restore a backed-up vault, as it was at a moment, into a new Obsidian vault',
        description:
          'Records a restore and starts it outside the request: it creates a NEW vault in the Obsidian account and uploads every file the backup held at as_of (absent: now). 202 with its id (poll GET /sync/restores/{restore_id}); with ?wait=, 200 and the restore if it ends in time. Interrupted, it resumes and uploads no file twice. Credentials and target_password serve this restore only and are never stored.',
        querystring: StartRestoreQuery,
        body: StartRestoreBody,
        response: {
          200: RestoreDetail,
          202: { ...RestoreQueued, headers: { Location: { type: 'string' } } },
          ...errorResponses(400, 403)
        }
      }
    },
    async (request, reply) => {
      const body = request.body
      const started = await restores.start({
        vaultId: body.vault_id,
        asOf: body.as_of === undefined ? undefined : parseAsOf(body.as_of),
        targetName: body.target_name,
        encryption: body.encryption,
        targetPassword: body.target_password,
        dryRun: body.dry_run,
        destBucket: body.dest_bucket,
        destPrefix: body.dest_prefix,
        credentials: requestCredentials(body)
      })
      return await answerStarted(reply, started, {
        waitSeconds: request.query.wait,
        waitFor: (id, ms) => restores.waitFor(id, ms),
        ended: run => (run.finishedAt !== undefined ? restoreDetail(run) : undefined),
        location: `/sync/restores/${started.runId}`,
        queued: { restore_id: started.runId }
      })
    }
  )

  app.get(
    '/sync/restores/:restore_id',
    {
      config: SYNC_READ,
      schema: {
        tags: ['sync'],
        summary: "A restore's status, the vault it created and its counts",
        params: RestoreParams,
        response: { 200: RestoreDetail, ...errorResponses(400, 404) }
      }
    },
    async request => {
      const found = await restores.get(request.params.restore_id)
      if (found === undefined) throw syncRestoreNotFound(request.params.restore_id)
      return restoreDetail(found)
    }
  )
}

export default syncRestoresRoutes
