import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { SYNC_VERSION_RETENTION_DAYS } from '../core/limits.ts'
import { errorResponses } from '../schemas/common.ts'
import { SYNC_READ } from './sync-scopes.ts'
import { FileHistory, HistoryQuery } from '../schemas/sync-history.ts'
import { VaultParams } from '../schemas/sync.ts'

/**
 * The past of a backup, from the versioned sync bucket: a file's versions (app.sync.history). The `as_of` forms
 * of the files list and download are routes/sync.ts's.
 */

const syncHistoryRoutes: FastifyPluginAsyncTypebox = async app => {
  app.get(
    '/sync/vaults/:vault_id/files/history',
    {
      config: SYNC_READ,
      schema: {
        tags: ['sync'],
        summary: "A backed-up file's versions, newest first, deletions included",
        description: `Every version the sync bucket still keeps (a version no longer current is kept ${SYNC_VERSION_RETENTION_DAYS} days): when the backup wrote or deleted it, with its size and hash. 404 when the bucket keeps none.`,
        params: VaultParams,
        querystring: HistoryQuery,
        response: { 200: FileHistory, ...errorResponses(400, 403, 404) }
      }
    },
    async request => {
      const { path, limit, cursor, dest_bucket: destBucket, dest_prefix: destPrefix } = request.query
      return await app.sync.history.versions(request.params.vault_id, path, { destBucket, destPrefix, limit, cursor })
    }
  )
}

export default syncHistoryRoutes
