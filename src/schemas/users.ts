import { Type } from '@sinclair/typebox'
import { MAX_EPOCH_MS, USERS_PAGE_DEFAULT, USERS_PAGE_MAX } from '../core/limits.ts'
import { Cursor, Limit } from '../http/pagination.ts'

// Dot-atom local part (at most 64 characters) @ dot-separated host labels with a
// letter TLD. Surrounding whitespace is allowed: emails are compared trimmed.
const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
export const EMAIL_PATTERN = `^\\s*(?=[^@\\s]{1,64}@)${ATOM}(?:\\.${ATOM})*@(?:${LABEL}\\.)+[A-Za-z]{2,63}\\s*$`

const UserId = Type.String({
  format: 'uuid',
  description: 'User id, a UUID made by the server',
  examples: ['3f1c2a9e-8b7d-4c6e-a5f4-1e2d3c4b5a69']
})
const Email = Type.String({
  minLength: 3,
  maxLength: 254,
  pattern: EMAIL_PATTERN,
  description:
    'At most 254 characters. Unique across live users, compared trimmed and case-insensitively; stored trimmed, as sent.',
  examples: ['ada@example.com']
})
/** Text of 1 to `maxLength` characters that is not only whitespace. */
const NonBlank = (maxLength: number, description: string) =>
  Type.String({ minLength: 1, maxLength, pattern: '\\S', description })
const Name = NonBlank(200, '1 to 200 characters, not only whitespace')
const Department = NonBlank(100, '1 to 100 characters, not only whitespace; matched exactly')
const EpochMs = (description: string) => Type.Integer({ minimum: 0, maximum: MAX_EPOCH_MS, description })
const ExpiresAt = EpochMs(
  'Epoch milliseconds, in the future: from then on the user is gone (404, absent from lists) and its email free'
)

export const CreateUserBody = Type.Object(
  {
    email: Email,
    name: Name,
    department: Type.Optional(Department),
    expiresAt: Type.Optional(ExpiresAt)
  },
  { additionalProperties: false }
)

export const UpdateUserBody = Type.Object(
  {
    email: Type.Optional(Email),
    name: Type.Optional(Name),
    department: Type.Optional(Type.Union([Department, Type.Null()], { description: 'null clears it' })),
    expiresAt: Type.Optional(
      Type.Union([ExpiresAt, Type.Null()], { description: 'null clears it: the user no longer expires' })
    )
  },
  { additionalProperties: false, minProperties: 1, description: 'Any of the fields; at least one' }
)

export const User = Type.Object(
  {
    userId: UserId,
    email: Email,
    name: Type.String(),
    department: Type.Union([Type.String(), Type.Null()]),
    createdAt: EpochMs('Epoch milliseconds'),
    updatedAt: EpochMs('Epoch milliseconds'),
    expiresAt: Type.Union([EpochMs('Epoch milliseconds'), Type.Null()])
  },
  { title: 'User', additionalProperties: false }
)

export const UserPage = Type.Object(
  {
    users: Type.Array(User, { maxItems: USERS_PAGE_MAX }),
    cursor: Type.Union([Cursor, Type.Null()], {
      description: 'Pass as `cursor` for the next page; null on the last page'
    })
  },
  { title: 'UserPage', additionalProperties: false }
)

export const UserIdParams = Type.Object({ userId: UserId })

export const ListUsersQuery = Type.Object(
  {
    email: Type.Optional(
      Type.String({
        ...Email,
        description:
          'Look one user up by email (trimmed, case-insensitive): a list of at most one. Not combinable with department or cursor.'
      })
    ),
    department: Type.Optional(Department),
    order: Type.Union([Type.Literal('asc'), Type.Literal('desc')], {
      default: 'asc',
      description: 'By creation time: asc oldest first (default), desc newest first'
    }),
    limit: Limit(USERS_PAGE_DEFAULT, USERS_PAGE_MAX),
    cursor: Type.Optional(Cursor)
  },
  { additionalProperties: false }
)

export const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(
    Type.String({
      description:
        'The ETag of the version this change applies to: 412 if the user has changed since. Without it, the last writer wins.'
    })
  )
})
