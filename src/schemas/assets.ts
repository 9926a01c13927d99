import { Type } from '@sinclair/typebox'
import { ASSET_METADATA_TTL_DAYS, MAX_FILE_NAME, S3_MAX_PARTS } from '../core/limits.ts'
import { Cursor, Limit } from '../http/pagination.ts'

const AssetId = Type.String({ format: 'uuid', description: 'Asset id, a UUID' })
const EpochMs = Type.Integer({ minimum: 0, description: 'Epoch milliseconds' })
const Status = Type.Union([Type.Literal('pending'), Type.Literal('uploaded'), Type.Literal('rejected')])

export const CreateAssetBody = Type.Object(
  {
    fileName: Type.String({
      minLength: 1,
      maxLength: 1024,
      description: `Made safe for the object key: no / \\ .. or control characters, at most ${MAX_FILE_NAME} characters`
    }),
    contentType: Type.String({
      minLength: 3,
      maxLength: 255,
      description: 'One of ASSETS_ALLOWED_TYPES; the upload must carry exactly this Content-Type'
    }),
    size: Type.Integer({
      minimum: 1,
      description: 'Bytes; at most ASSETS_MAX_BYTES (413 above). The upload must be exactly this long.'
    })
  },
  { additionalProperties: false }
)

const assetProperties = {
  assetId: AssetId,
  fileName: Type.String(),
  contentType: Type.String(),
  size: Type.Integer(),
  status: Status,
  s3Key: Type.String({ description: 'assets/<assetId>/<fileName>' }),
  s3Bucket: Type.String({ description: 'The bucket holding the object (ASSETS_BUCKET when the asset was declared)' }),
  createdAt: EpochMs,
  expiresAt: {
    ...EpochMs,
    description: `When the metadata expires (${ASSET_METADATA_TTL_DAYS} days after creation), epoch ms`
  },
  etag: Type.Optional(Type.String({ description: "The object's ETag, once uploaded" })),
  uploadedAt: Type.Optional(EpochMs),
  rejectedReason: Type.Optional(Type.String()),
  multipart: Type.Optional(
    Type.Object(
      {
        uploadId: Type.String(),
        partSize: Type.Integer({ description: 'Bytes per part; the last part may be shorter' }),
        partCount: Type.Integer()
      },
      { additionalProperties: false }
    )
  )
}

export const Asset = Type.Object(assetProperties, { additionalProperties: false })

const Upload = Type.Union([
  Type.Object(
    {
      method: Type.Literal('PUT'),
      url: Type.String({ description: 'Presigned; send the bytes here' }),
      headers: Type.Record(Type.String(), Type.String(), {
        description: 'Headers to send with them. Content-Length must equal size (browsers and curl set it).'
      }),
      expiresAt: EpochMs
    },
    { additionalProperties: false }
  ),
  Type.Object(
    {
      method: Type.Literal('MULTIPART'),
      uploadId: Type.String(),
      partSize: Type.Integer(),
      partCount: Type.Integer(),
      expiresAt: EpochMs
    },
    {
      additionalProperties: false,
      description: 'Large files: get part URLs from POST /assets/{assetId}/parts, then POST /assets/{assetId}/complete'
    }
  )
])

export const CreatedAsset = Type.Object({ ...assetProperties, upload: Upload }, { additionalProperties: false })

export const AssetParams = Type.Object({ assetId: AssetId })

export const DownloadQuery = Type.Object(
  {
    redirect: Type.Optional(
      Type.Union([Type.Literal('1'), Type.Literal('true'), Type.Literal('0'), Type.Literal('false')], {
        description: '1: answer 302 to the URL'
      })
    )
  },
  { additionalProperties: false }
)

export const Download = Type.Object({ url: Type.String(), expiresAt: EpochMs }, { additionalProperties: false })

export const ListAssetsQuery = Type.Object(
  {
    status: Status,
    limit: Limit(20, 100),
    cursor: Type.Optional(Cursor)
  },
  { additionalProperties: false }
)

export const AssetList = Type.Object(
  {
    assets: Type.Array(Asset, { description: 'Newest first' }),
    cursor: Type.Union([Type.String(), Type.Null()], {
      description: 'Pass as cursor for the next page; null on the last'
    })
  },
  { additionalProperties: false }
)

const PartNumber = Type.Integer({ minimum: 1, maximum: S3_MAX_PARTS })

export const PartsBody = Type.Object(
  {
    partNumbers: Type.Array(PartNumber, { minItems: 1, maxItems: 1000 })
  },
  { additionalProperties: false }
)

export const PartUrls = Type.Object(
  {
    parts: Type.Array(
      Type.Object(
        {
          partNumber: PartNumber,
          url: Type.String({ description: 'Presigned PUT for this part; keep the ETag header of its answer' })
        },
        { additionalProperties: false }
      )
    ),
    expiresAt: EpochMs
  },
  { additionalProperties: false }
)

export const CompleteBody = Type.Object(
  {
    parts: Type.Array(
      Type.Object(
        { partNumber: PartNumber, etag: Type.String({ minLength: 1, maxLength: 128 }) },
        { additionalProperties: false }
      ),
      { minItems: 1, maxItems: S3_MAX_PARTS }
    )
  },
  { additionalProperties: false }
)
