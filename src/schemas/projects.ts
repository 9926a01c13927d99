import { Type } from '@sinclair/typebox'
import { MAX_BATCH, MAX_DATA_BYTES, MAX_SEQ, MAX_WAIT_SECONDS } from '../core/limits.ts'
import { Cursor, Limit } from '../http/pagination.ts'

// Ids become parts of DynamoDB keys joined with '#', so '#' is never in them.
export const PROJECT_ID_PATTERN = '^[A-Za-z0-9_.-]{1,128}$'
const ProjectId = Type.String({ pattern: PROJECT_ID_PATTERN, description: 'Letters, digits, _ . - (1 to 128)' })
const EntityType = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'Letters, digits, _ . - (1 to 64)' })
const EntityId = Type.String({
  pattern: '^[A-Za-z0-9_.:@-]{1,256}$',
  description: 'Letters, digits, _ . : @ - (1 to 256)'
})
const ChangeId = Type.String({
  pattern: '^[A-Za-z0-9_.:-]{1,128}$',
  description:
    "The client's idempotency key, unique per project. Set it on every change of a request or on none; a change whose changeId landed before is not appended again, in whatever request it comes."
})
const Operation = Type.Union([Type.Literal('create'), Type.Literal('update'), Type.Literal('delete')])
const Seq = Type.Integer({
  minimum: 1,
  maximum: MAX_SEQ,
  description: "Position in the project's feed: 1, 2, 3 … with no gap"
})
const Data = Type.Object(
  {},
  {
    additionalProperties: true,
    description: `The entity's data; required for create and update, absent for delete; at most ${MAX_DATA_BYTES} bytes as JSON (413 above)`
  }
)
const IsoTime = Type.String({ format: 'date-time' })

export const ChangeInput = Type.Object(
  {
    entityType: EntityType,
    entityId: EntityId,
    operation: Operation,
    data: Type.Optional(Data),
    timestamp: Type.Optional(Type.String({ format: 'date-time', description: "ISO-8601, the client's clock" })),
    changeId: Type.Optional(ChangeId)
  },
  { additionalProperties: false }
)

export const AppendBody = Type.Union(
  [
    ChangeInput,
    Type.Object(
      { changes: Type.Array(ChangeInput, { minItems: 1, maxItems: MAX_BATCH }) },
      { additionalProperties: false }
    )
  ],
  { description: `One change, or {changes: [...]} with 1 to ${MAX_BATCH}` }
)

export const Change = Type.Object(
  {
    seq: Seq,
    projectId: ProjectId,
    entityType: EntityType,
    entityId: EntityId,
    operation: Operation,
    timestamp: Type.String({ description: "The client's timestamp, or createdAt when it sent none" }),
    data: Type.Optional(Data),
    changeId: Type.Optional(Type.String()),
    createdAt: IsoTime,
    outdatedBy: Type.Optional(Type.Integer({ description: "The seq of the entity's next change, once it exists" }))
  },
  { additionalProperties: false }
)

export const Entity = Type.Object(
  {
    ...Change.properties,
    deleted: Type.Boolean({ description: 'True when the latest change is a delete' })
  },
  { additionalProperties: false }
)

export const AppendedChange = Type.Object(
  {
    ...Change.properties,
    duplicate: Type.Boolean({
      description: 'True when this changeId had landed before: nothing was written, seq is the one it got then'
    })
  },
  { additionalProperties: false }
)

export const AppendResponse = Type.Object(
  {
    changes: Type.Array(AppendedChange, {
      description: 'In request order; the seqs of the changes appended now are consecutive'
    })
  },
  { additionalProperties: false }
)

export const ProjectParams = Type.Object({ projectId: ProjectId })
export const ChangeParams = Type.Object({ projectId: ProjectId, seq: Seq })
export const EntityParams = Type.Object({ projectId: ProjectId, entityType: EntityType, entityId: EntityId })

export const FeedQuery = Type.Object(
  {
    since: Type.Integer({
      minimum: 0,
      maximum: MAX_SEQ - 1,
      default: 0,
      description: "Return changes after this seq: 0, then each page's lastSeq"
    }),
    limit: Limit(100, 1000),
    entityType: Type.Optional(EntityType),
    includeOutdated: Type.Boolean({
      default: true,
      description: 'false leaves out changes a later change to the same entity has replaced'
    }),
    wait: Type.Integer({
      minimum: 0,
      maximum: MAX_WAIT_SECONDS,
      default: 0,
      description: `Long poll: hold the request up to this many seconds (at most ${MAX_WAIT_SECONDS}) until a change after since exists`
    })
  },
  { additionalProperties: false }
)

export const FeedPage = Type.Object(
  {
    changes: Type.Array(Change),
    lastSeq: Type.Integer({
      minimum: 0,
      description: 'Pass as since for the next page; equals since when nothing new was examined'
    }),
    hasMore: Type.Boolean({ description: 'More changes after lastSeq exist now' })
  },
  { additionalProperties: false }
)

const Counts = Type.Record(Type.String(), Type.Integer({ minimum: 0 }))

export const ProjectStats = Type.Object(
  {
    projectId: ProjectId,
    totalChanges: Type.Integer({ minimum: 0, description: 'Changes counted: those up to projectedSeq' }),
    latestSeq: Type.Integer({ minimum: 0, description: "The feed's last seq" }),
    projectedSeq: Type.Integer({
      minimum: 0,
      description:
        'The last seq the stats (and entity states, outdatedBy) include; below latestSeq when the projection is behind'
    }),
    byEntityType: Counts,
    byOperation: Counts,
    outdatedChanges: Type.Integer({ minimum: 0 }),
    createdAt: IsoTime,
    updatedAt: IsoTime
  },
  { additionalProperties: false }
)

/** On entity reads: how far the state read is behind the feed. */
export const ProjectionHeaders = {
  'X-Projected-Seq': {
    type: 'integer',
    description: 'The last seq entity states include; below X-Latest-Seq when the projection is behind'
  },
  'X-Latest-Seq': { type: 'integer', description: "The feed's last seq, as the read found it" }
} as const

export const ListQuery = Type.Object(
  {
    limit: Limit(50, 100),
    cursor: Type.Optional(Cursor)
  },
  { additionalProperties: false }
)

export const ProjectList = Type.Object(
  {
    projects: Type.Array(
      Type.Object(
        {
          projectId: ProjectId,
          latestSeq: Type.Integer({
            minimum: 0,
            description: 'As far as the stats have got; may trail the feed by a moment'
          }),
          createdAt: IsoTime
        },
        { additionalProperties: false }
      )
    ),
    cursor: Type.Union([Type.String(), Type.Null()], {
      description: 'Pass as cursor for the next page; null on the last'
    })
  },
  { additionalProperties: false }
)
