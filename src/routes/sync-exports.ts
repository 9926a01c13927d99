import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { ExportRun } from '../repositories/sync-exports.ts'
import { errorResponses } from '../schemas/common.ts'
import { SYNC_READ, SYNC_RUN } from './sync-scopes.ts'
import { answerStarted } from './started-run.ts'
import { ExportDetail, ExportParams, ExportQueued, StartExportBody, StartExportQuery } from '../schemas/sync-exports.ts'
import type { ExportService } from '../sync/export/export-service.ts'
import { syncExportNotFound } from '../sync/export/export-service.ts'
import { EXPORT_RETENTION_DAYS, exportExpiresAt } from '../core/export-retention.ts'

/** /sync/exports: a vault at a moment as one zip in the sync bucket. Thin handlers: app.sync.exports does the work. */

async function exportDetail(service: ExportService, e: ExportRun) {
  return {
    export_id: e.runId,
    status: e.status,
    vault_id: e.vaultId,
    as_of: new Date(e.asOf).toISOString(),
    files_count: e.filesCount,
    bytes: e.bytes,
    url: await service.downloadUrl(e),
    expires_at: new Date(exportExpiresAt(e.createdAt)).toISOString(),
    errors: e.errors
  }
}

const syncExportsRoutes: FastifyPluginAsyncTypebox = async app => {
  const service = app.sync.exports

  app.post(
    '/sync/exports',
    {
      config: SYNC_RUN,
      schema: {
        tags: ['sync'],
        summary: 'Export a vault as it was at a moment: one zip in the sync bucket',
        description: `Records an export and writes its zip outside the request (exports/<vault_id>/<export_id>.zip in the sync bucket, streamed, paths as stored, mtimes set; kept ${EXPORT_RETENTION_DAYS} days). 202 with its id (poll GET /sync/exports/{export_id}); with ?wait=, 200 and the export if it ends in time. dest_bucket / dest_prefix name the backup read.`,
        querystring: StartExportQuery,
        body: StartExportBody,
        response: {
          200: ExportDetail,
          202: { ...ExportQueued, headers: { Location: { type: 'string' } } },
          ...errorResponses(400, 403)
        }
      }
    },
    async (request, reply) => {
      const { vault_id: vaultId, as_of: asOf, dest_bucket: destBucket, dest_prefix: destPrefix } = request.body
      const started = await service.start({ vaultId, asOf, destBucket, destPrefix })
      return await answerStarted(reply, started, {
        waitSeconds: request.query.wait,
        waitFor: (id, ms) => service.waitFor(id, ms),
        ended: run => (run.status === 'succeeded' || run.status === 'failed' ? exportDetail(service, run) : undefined),
        location: `/sync/exports/${started.runId}`,
        queued: { export_id: started.runId }
      })
    }
  )

  app.get(
    '/sync/exports/:export_id',
    {
      config: SYNC_READ,
      schema: {
        tags: ['sync'],
        summary: "An export's status, counts and, once it succeeded, a download URL of its zip",
        params: ExportParams,
        response: { 200: ExportDetail, ...errorResponses(400, 404) }
      }
    },
    async request => {
      const found = await service.get(request.params.export_id)
      if (found === undefined) throw syncExportNotFound(request.params.export_id)
      return await exportDetail(service, found)
    }
  )
}

export default syncExportsRoutes
