import { Type } from '@sinclair/typebox'
import { MAX_SYNC_ERROR_MESSAGES, MAX_SYNC_WAIT_SECONDS, SYNC_VERSION_RETENTION_DAYS } from '../core/limits.ts'
import { Cursor, Limit } from '../http/pagination.ts'

/** The longest wait POST /sync?wait= accepts: API Gateway cuts requests at 30 s. */

const VaultId = Type.String({
  minLength: 1,
  maxLength: 128,
  pattern: '^(?!\\.{1,2}$)[A-Za-z0-9_.-]+$',
  description: "An Obsidian Sync vault's id"
})
const RunId = Type.String({ format: 'uuid', description: 'A sync run id (a UUIDv7: newer runs sort later)' })
const BucketName = Type.String({
  minLength: 3,
  maxLength: 63,
  pattern: '^[a-z0-9][a-z0-9.-]+[a-z0-9]$',
  description: "An S3 bucket; must be one of SYNC_ALLOWED_BUCKETS (403 otherwise). Default: the stack's sync bucket"
})
const DestPrefix = Type.String({
  minLength: 1,
  maxLength: 128,
  pattern: '^(?!\\.{1,2}$)[A-Za-z0-9_.-]+$',
  description:
    "Key prefix files go under: `<prefix>/<vault_id>/<path>`. One segment (no /) of letters, digits, _ . -, so no destination reaches into another vault's; default vaults"
})
const Secret = (description: string) => Type.String({ minLength: 1, maxLength: 1024, description })
const IsoTime = Type.String({ format: 'date-time', description: 'ISO-8601' })
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()])

export const StartSyncBody = Type.Object(
  {
    vault_id: Type.Optional({
      ...VaultId,
      description: 'One vault; without it, every vault of the account, shared ones included'
    }),
    sync_type: Type.Union([Type.Literal('complete'), Type.Literal('incremental')], {
      description:
        'incremental: the changes since the last sync (everything, the first time); complete: the vault as it is now, removing what it no longer has'
    }),
    dest_bucket: Type.Optional(BucketName),
    dest_prefix: Type.Optional(DestPrefix),
    email: Type.Optional(
      Secret('Obsidian account email, for this run only (with password); default: the configured account')
    ),
    password: Type.Optional(Secret('Obsidian account password, for this run only; never stored or logged')),
    totp_secret: Type.Optional(Secret('Base32 TOTP secret, for accounts with two-factor authentication')),
    vault_password: Type.Optional(
      Secret("The vaults' encryption password, for this run only; default: OBSIDIAN_VAULT_PASSWORDS")
    )
  },
  { additionalProperties: false }
)

export const StartSyncQuery = Type.Object(
  {
    wait: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_SYNC_WAIT_SECONDS,
        default: 0,
        description: `Seconds to wait for the run to end (at most ${MAX_SYNC_WAIT_SECONDS}): 200 with its result if it does, else 202`
      })
    )
  },
  { additionalProperties: false }
)

export const RunQueued = Type.Object({ run_id: RunId, status: Type.Literal('queued') }, { additionalProperties: false })

export const SyncResponse = Type.Object(
  {
    run_id: RunId,
    success: Type.Boolean(),
    vaults_synced: Type.Array(Type.String()),
    files_count: Type.Integer({ description: 'Files seen: pulled, unchanged, deleted or refused' }),
    duration: Type.String({ description: 'From the request to the end, e.g. 12.345s' }),
    errors: Type.Array(Type.String()),
    details: Type.Record(Type.String(), Type.Unknown(), {
      description:
        "sync_type, trigger, dest_bucket, dest_prefix, hops (the run's slices), lambda_memory (the function's memory in MB as Lambda gives it; null elsewhere)"
    })
  },
  { additionalProperties: false }
)

export const SyncBusy = Type.Object(
  {
    statusCode: Type.Integer({ examples: [409] }),
    error: Type.String(),
    message: Type.String(),
    code: Type.Literal('SYNC_IN_PROGRESS'),
    run_id: RunId
  },
  {
    additionalProperties: false,
    description: 'The vault is being synced: run_id is the running run. Nothing was started.'
  }
)

const RunStatus = Type.Union(
  ['queued', 'running', 'succeeded', 'failed', 'partial'].map(s => Type.Literal(s)),
  { description: 'partial: some vaults or files failed, the rest synced' }
)

const VaultProgress = Type.Object(
  {
    vault_id: Type.String(),
    name: Nullable(Type.String()),
    status: Type.Union(
      ['running', 'succeeded', 'partial', 'failed', 'skipped'].map(s => Type.Literal(s)),
      {
        description: 'partial: some files were refused or failed; skipped: another run was syncing it'
      }
    ),
    files_seen: Type.Integer(),
    files_pulled: Type.Integer(),
    files_skipped: Type.Integer({ description: 'Unchanged: their hash was already backed up, so not pulled' }),
    files_deleted: Type.Integer(),
    bytes: Type.Integer({ description: 'Plaintext bytes uploaded' }),
    error_count: Type.Integer(),
    errors: Type.Array(Type.String(), { description: `The first ${MAX_SYNC_ERROR_MESSAGES} errors` })
  },
  { additionalProperties: false }
)

const runProperties = {
  run_id: RunId,
  status: RunStatus,
  sync_type: Type.Union([Type.Literal('complete'), Type.Literal('incremental')]),
  trigger: Type.Union([Type.Literal('api'), Type.Literal('schedule'), Type.Literal('cli')]),
  vault_id: Nullable(Type.String()),
  dest_bucket: Type.String(),
  dest_prefix: Type.String(),
  created_at: IsoTime,
  started_at: Nullable(IsoTime),
  finished_at: Nullable(IsoTime),
  hops: Type.Integer({ description: 'Slices (invocations) the run has taken' })
}

export const RunSummary = Type.Object(runProperties, { additionalProperties: false })

export const RunDetail = Type.Object(
  { ...runProperties, vaults: Type.Array(VaultProgress), result: Type.Union([SyncResponse, Type.Null()]) },
  { additionalProperties: false }
)

export const RunParams = Type.Object({ run_id: RunId }, { additionalProperties: false })

export const ListRunsQuery = Type.Object(
  { limit: Type.Optional(Limit(20, 100)), cursor: Type.Optional(Cursor) },
  { additionalProperties: false }
)

export const RunList = Type.Object(
  { runs: Type.Array(RunSummary), cursor: Nullable(Type.String()) },
  { additionalProperties: false }
)

export const VaultList = Type.Object(
  {
    vaults: Type.Array(
      Type.Object(
        {
          vault_id: Type.String(),
          name: Nullable(Type.String()),
          shared: Type.Union([Type.Boolean(), Type.Null()], {
            description: 'Shared with the account; null when not listed by it'
          }),
          dest_bucket: Nullable(Type.String()),
          dest_prefix: Nullable(Type.String()),
          last_synced_version: Type.Union([Type.Integer(), Type.Null()]),
          last_success_at: Nullable(IsoTime),
          last_attempt_at: Nullable(IsoTime),
          last_run_id: Nullable(Type.String()),
          file_count: Type.Integer(),
          last_error: Nullable(Type.String())
        },
        { additionalProperties: false }
      )
    )
  },
  { additionalProperties: false }
)

export const VaultParams = Type.Object({ vault_id: VaultId }, { additionalProperties: false })

export const destinationQuery = {
  dest_bucket: Type.Optional(BucketName),
  dest_prefix: Type.Optional(DestPrefix)
}

/** A moment of a backup's past (see docs/sync.md, "The past of a backup"). */
export const AsOf = Type.Union(
  [
    Type.String({ format: 'date-time', maxLength: 64, description: 'RFC 3339' }),
    Type.String({ pattern: '^[0-9]{1,15}$', description: 'epoch ms' })
  ],
  {
    description: `The moment to read the backup at, to the second: an RFC 3339 time or epoch ms; absent: now. Before the backup's first run or more than ${SYNC_VERSION_RETENTION_DAYS} days ago: 400 AS_OF_OUT_OF_RANGE`
  }
)

export const ListFilesQuery = Type.Object(
  {
    prefix: Type.Optional(
      Type.String({ maxLength: 1024, default: '', description: 'Only paths that start with this (e.g. `notes/`)' })
    ),
    limit: Type.Optional(Limit(100, 1000)),
    cursor: Type.Optional(Cursor),
    as_of: Type.Optional(AsOf),
    ...destinationQuery
  },
  { additionalProperties: false }
)

export const FileList = Type.Object(
  {
    files: Type.Array(
      Type.Object(
        {
          path: Type.String(),
          size: Type.Integer({ description: 'Plaintext bytes' }),
          sha256: Type.String({ description: 'hex SHA-256 of the plaintext' }),
          mtime: Type.Integer({ description: 'Modification time, epoch ms' }),
          s3_key: Type.String(),
          version_id: Nullable(
            Type.String({
              description:
                "The object's version; null when unknown (synced before versions were recorded, or a bucket without versioning)"
            })
          )
        },
        { additionalProperties: false }
      )
    ),
    cursor: Nullable(Type.String())
  },
  { additionalProperties: false }
)

export const DownloadFileQuery = Type.Object(
  {
    path: Type.String({ minLength: 1, maxLength: 1024, description: 'The file, as listed' }),
    as_of: Type.Optional(AsOf),
    ...destinationQuery
  },
  { additionalProperties: false }
)

export const FileDownload = Type.Object(
  {
    url: Type.String({ description: 'Presigned GET of the backed-up file' }),
    expiresAt: Type.Integer({ description: 'When the URL stops working, epoch ms' })
  },
  { additionalProperties: false }
)
