import { Type } from '@sinclair/typebox'
import { HISTORY_DEPTH, MAX_PAYLOAD_BYTES, MAX_VERSION } from '../core/limits.ts'

const STANDARD_BASE64 = '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$'
export const MAX_ITERATIONS = 10_000_000

const KeyId = Type.String({
  format: 'uuid',
  description: 'Dataset id, a UUID',
  examples: ['9b2f8c0e-3d4a-4b6c-9f1e-2a7d5c8b1e30']
})
const Version = Type.Integer({ minimum: 1, maximum: MAX_VERSION, description: 'Increases by one with every write' })
const UpdatedAt = Type.String({ format: 'date-time', description: 'ISO-8601 time of the write' })

export const DatasetMeta = Type.Object(
  {
    enc: Type.Literal('AES-GCM'),
    kdf: Type.Literal('PBKDF2-SHA256'),
    iterations: Type.Integer({ minimum: 100_000, maximum: MAX_ITERATIONS }),
    salt: Type.String({ minLength: 1, maxLength: 1024, pattern: STANDARD_BASE64, description: 'Standard base64' }),
    iv: Type.String({ pattern: '^[A-Za-z0-9+/]{16}$', description: 'Standard base64 of 12 bytes' }),
    schemaVersion: Type.Integer({ minimum: 1, maximum: 2_147_483_647 })
  },
  { title: 'DatasetMeta', additionalProperties: false, description: 'Non-secret crypto metadata, validated strictly' }
)

const Payload = Type.String({
  minLength: 1,
  description: `The encrypted dataset, as the client serialized it; at most ${MAX_PAYLOAD_BYTES} bytes of UTF-8 (413 above)`
})

export const CreateDatasetBody = Type.Object(
  {
    keyId: Type.Optional(KeyId),
    payload: Payload,
    meta: DatasetMeta
  },
  { additionalProperties: false }
)

export const UpdateDatasetBody = Type.Object(
  {
    payload: Payload,
    meta: DatasetMeta
  },
  { additionalProperties: false }
)

export const KeyIdParams = Type.Object({ keyId: KeyId })
export const VersionParams = Type.Object({ keyId: KeyId, version: Version })

export const ConditionalReadHeaders = Type.Object({
  'if-none-match': Type.Optional(
    Type.String({ description: 'An ETag from an earlier GET: 304 while it is still current' })
  )
})
export const ConditionalWriteHeaders = Type.Object({
  'if-match': Type.Optional(
    Type.String({
      description:
        'The ETag of the version this write replaces: 412 if another write came first. Without it, the last writer wins.'
    })
  )
})

export const VersionStamp = Type.Object(
  { keyId: KeyId, version: Version, updatedAt: UpdatedAt },
  { additionalProperties: false }
)

export const Dataset = Type.Object(
  {
    keyId: KeyId,
    version: Version,
    payload: Type.String(),
    meta: DatasetMeta,
    updatedAt: UpdatedAt
  },
  { additionalProperties: false }
)

export const DatasetDeleted = Type.Object(
  {
    message: Type.Literal('Dataset deleted successfully'),
    keyId: KeyId
  },
  { additionalProperties: false }
)

export const DatasetVersions = Type.Object(
  {
    keyId: KeyId,
    versions: Type.Array(Type.Object({ version: Version, updatedAt: UpdatedAt }, { additionalProperties: false }), {
      maxItems: HISTORY_DEPTH,
      description: `The last ${HISTORY_DEPTH} versions, newest first`
    })
  },
  { additionalProperties: false }
)
