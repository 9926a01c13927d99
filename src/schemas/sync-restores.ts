import { Type } from '@sinclair/typebox'
import { MAX_SYNC_ERROR_MESSAGES } from '../core/limits.ts'
import { AsOf, destinationQuery, StartSyncBody, StartSyncQuery, VaultParams } from './sync.ts'

const RestoreId = Type.String({ format: 'uuid', description: 'A restore id (a UUIDv7)' })
const account = StartSyncBody.properties

export const StartRestoreBody = Type.Object(
  {
    vault_id: { ...VaultParams.properties.vault_id, description: 'The backed-up vault to restore' },
    as_of: Type.Optional(AsOf),
    target_name: Type.String({
      minLength: 1,
      maxLength: 256,
      pattern: '\\S',
      description: 'The name of the NEW Obsidian vault the files go into (an existing vault is never written to)'
    }),
    encryption: Type.Union([Type.Literal('end-to-end'), Type.Literal('standard')], {
      description: "end-to-end: keyed by target_password, which the service never sees; standard: the service's own key"
    }),
    target_password: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description: "The new vault's encryption password (end-to-end, required there); never stored or logged"
      })
    ),
    dry_run: Type.Optional(
      Type.Boolean({ default: false, description: 'Count what it would upload; create and upload nothing' })
    ),
    ...destinationQuery,
    email: account.email,
    password: account.password,
    totp_secret: account.totp_secret
  },
  { additionalProperties: false }
)

export const StartRestoreQuery = StartSyncQuery

export const RestoreParams = Type.Object({ restore_id: RestoreId }, { additionalProperties: false })

export const RestoreQueued = Type.Object(
  { restore_id: RestoreId, status: Type.Literal('queued') },
  { additionalProperties: false }
)

export const RestoreDetail = Type.Object(
  {
    restore_id: RestoreId,
    status: Type.Union(
      ['queued', 'running', 'succeeded', 'failed', 'partial'].map(s => Type.Literal(s)),
      { description: 'partial: it ended with some files refused or failed' }
    ),
    vault_id: Type.String({ description: 'The backed-up vault restored' }),
    as_of: Type.String({ format: 'date-time', description: 'The moment restored' }),
    dry_run: Type.Boolean(),
    target_vault_id: Type.Union([Type.String(), Type.Null()], {
      description: 'The vault it created; null before it has (and always in a dry run)'
    }),
    files_count: Type.Integer({ description: 'Files of the backup at that moment' }),
    uploaded: Type.Integer({ description: 'Files uploaded (in a dry run: that it would upload)' }),
    skipped: Type.Integer({ description: 'Files the new vault already held with the same content' }),
    errors: Type.Integer({ description: 'Files refused or failed' }),
    messages: Type.Array(Type.String(), {
      description: `The first errors (at most ${MAX_SYNC_ERROR_MESSAGES}): failed files, or why the restore stopped`
    }),
    hops: Type.Integer({ description: 'Slices (invocations) it has taken' })
  },
  { additionalProperties: false }
)
