import { Type } from '@sinclair/typebox'
import { MAX_SYNC_ERROR_MESSAGES } from '../core/limits.ts'
import { EXPORT_RETENTION_DAYS } from '../core/export-retention.ts'
import { AsOf, destinationQuery, StartSyncQuery, VaultParams } from './sync.ts'

const ExportId = Type.String({ format: 'uuid', description: 'An export id (a UUIDv7: newer exports sort later)' })

export const StartExportBody = Type.Object(
  {
    vault_id: VaultParams.properties.vault_id,
    as_of: Type.Optional(AsOf),
    ...destinationQuery
  },
  { additionalProperties: false }
)

/** `?wait=` as on POST /sync. */
export const StartExportQuery = StartSyncQuery

export const ExportQueued = Type.Object(
  { export_id: ExportId, status: Type.Literal('queued') },
  { additionalProperties: false }
)

export const ExportParams = Type.Object({ export_id: ExportId }, { additionalProperties: false })

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()])

export const ExportDetail = Type.Object(
  {
    export_id: ExportId,
    status: Type.Union(
      [Type.Literal('queued'), Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed')],
      { description: 'queued -> running -> succeeded | failed' }
    ),
    vault_id: Type.String(),
    as_of: Type.String({ format: 'date-time', description: 'The moment exported' }),
    files_count: Type.Integer({ description: 'Files in the zip (so far, while running)' }),
    bytes: Type.Integer({ description: "The zip's size in bytes (so far, while running)" }),
    url: Nullable(
      Type.String({
        description:
          'A presigned download of the zip (as an attachment), valid a short while: read the export again for a fresh one. Null until it succeeded'
      })
    ),
    expires_at: Type.String({
      format: 'date-time',
      description: `When the zip is deleted (kept ${EXPORT_RETENTION_DAYS} days), and the export with it`
    }),
    errors: Type.Array(Type.String(), { maxItems: MAX_SYNC_ERROR_MESSAGES, description: 'Why it failed' })
  },
  { additionalProperties: false }
)
