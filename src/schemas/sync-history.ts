import { Type } from '@sinclair/typebox'
import { Cursor, Limit } from '../http/pagination.ts'
import { destinationQuery } from './sync.ts'

export const HistoryQuery = Type.Object(
  {
    path: Type.String({ minLength: 1, maxLength: 1024, description: 'The file, as listed' }),
    limit: Type.Optional(Limit(50, 200)),
    cursor: Type.Optional(Cursor),
    ...destinationQuery
  },
  { additionalProperties: false }
)

const NullableInteger = (description: string) => Type.Union([Type.Integer(), Type.Null()], { description })

export const FileHistory = Type.Object(
  {
    versions: Type.Array(
      Type.Object(
        {
          version_id: Type.String({ description: "The object's version in the sync bucket" }),
          time: Type.Integer({ description: 'When the backup wrote or deleted it, epoch ms (to the second)' }),
          deleted: Type.Boolean({ description: 'A deletion: the file was gone from this moment on' }),
          size: NullableInteger('Plaintext bytes; null for a deletion'),
          sha256: Type.Union([Type.String(), Type.Null()], {
            description: 'hex SHA-256 of the plaintext; null for a deletion'
          }),
          mtime: NullableInteger('Modification time, epoch ms; null for a deletion')
        },
        { additionalProperties: false }
      ),
      { description: 'Newest first' }
    ),
    cursor: Type.Union([Type.String(), Type.Null()])
  },
  { additionalProperties: false }
)
