import type { FastifyInstance } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { SYNC_VERSION_RETENTION_DAYS } from '../core/limits.ts'
import type { Target } from '../repositories/sync-vaults.ts'
import { errorResponses } from '../schemas/common.ts'
import { FileHistory, HistoryQuery } from '../schemas/sync-history.ts'
import { VaultParams } from '../schemas/sync.ts'
import { checkAsOf, parseAsOf } from '../sync/as-of.ts'
import { objectKey, UnsafePathError, vaultKeyPrefix } from '../repositories/sync-paths.ts'
import { syncFileNotFound } from '../sync/vault-listing.ts'

/**
 * The past of a backup, from the versioned sync bucket: a file's versions here, and the `as_of` forms of the
 * files list and download, which routes/sync.ts hands over to when a request names a moment.
 */

const read = { auth: { scopes: ['sync:read'] } }

/** The moment `as_of` names, once the backup is known to show it (400 AS_OF_OUT_OF_RANGE otherwise). */
async function momentOf(app: FastifyInstance, vaultId: string, target: Target, asOf: string): Promise<number> {
  const moment = parseAsOf(asOf)
  checkAsOf(moment, vaultId, await app.syncVaultsRepository.state(vaultId, target))
  return moment
}

/** The key of `path` in the vault at `target`; a path no sync could have written is a file never backed up. */
function keyOf(vaultId: string, target: Target, path: string): string {
  try {
    return objectKey(target.prefix, vaultId, path)
  } catch (err) {
    if (err instanceof UnsafePathError) throw syncFileNotFound(vaultId, path)
    throw err
  }
}

/** GET /sync/vaults/{vault_id}/files?as_of=: the files as the backup held them at that moment. */
export async function filesAsOf(
  app: FastifyInstance,
  vaultId: string,
  target: Target,
  query: { as_of: string; prefix?: string; limit?: number; cursor?: string }
) {
  const moment = await momentOf(app, vaultId, target, query.as_of)
  return await app.syncHistoryRepository.filesPage(target.bucket, vaultKeyPrefix(target.prefix, vaultId), moment, {
    pathPrefix: query.prefix ?? '',
    limit: query.limit ?? 100,
    cursor: query.cursor
  })
}

/** GET /sync/vaults/{vault_id}/files/download?as_of=: a URL to the file's bytes as they were at that moment. */
export async function downloadAsOf(app: FastifyInstance, vaultId: string, target: Target, path: string, asOf: string) {
  const moment = await momentOf(app, vaultId, target, asOf)
  const found = await app.syncHistoryRepository.fileAsOf(target.bucket, keyOf(vaultId, target, path), moment)
  if (found === undefined) throw syncFileNotFound(vaultId, path, asOf)
  return await app.syncObjectsRepository.downloadUrl(target.bucket, found.s3_key, found.version_id)
}

const syncHistoryRoutes: FastifyPluginAsyncTypebox = async app => {
  app.get(
    '/sync/vaults/:vault_id/files/history',
    {
      config: read,
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
      const { vault_id: vaultId } = request.params
      const { path, limit, cursor } = request.query
      const target = app.sync.runs.target(request.query.dest_bucket, request.query.dest_prefix)
      const page = await app.syncHistoryRepository.historyPage(
        target.bucket,
        keyOf(vaultId, target, path),
        limit ?? 50,
        cursor
      )
      if (page.versions.length === 0 && cursor === undefined) throw syncFileNotFound(vaultId, path)
      return page
    }
  )
}

export default syncHistoryRoutes
