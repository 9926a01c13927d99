import { Type } from '@sinclair/typebox'
import { buckets, tables } from '../tables.ts'

const DependencyStatus = Type.Union([Type.Literal('ok'), Type.Literal('unavailable')])

/** One status per table (or bucket) of src/tables.ts, by its key there. */
const statusOfEach = (defs: Record<string, { logicalId: string }>, kind: string) =>
  Type.Object(
    Object.fromEntries(
      Object.entries(defs).map(([key, def]) => [
        key,
        Type.Union(DependencyStatus.anyOf, { description: `The ${kind} of ${def.logicalId}` })
      ])
    ),
    { additionalProperties: false }
  )

export const HealthQuery = Type.Object(
  {
    deep: Type.Optional(
      Type.Union([Type.Literal('1'), Type.Literal('true'), Type.Literal('0'), Type.Literal('false')], {
        description: 'With 1 or true, also check that every table and bucket answers'
      })
    )
  },
  { additionalProperties: false }
)

export const HealthResponse = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
    version: Type.String({ description: 'The deployed application version' }),
    uptime: Type.Number({ description: 'Seconds since this process (or Lambda container) started' }),
    checks: Type.Optional(
      Type.Object(
        {
          dynamodb: Type.Union(DependencyStatus.anyOf, { description: 'ok when every table answers' }),
          s3: Type.Union(DependencyStatus.anyOf, { description: 'ok when every bucket answers' }),
          tables: statusOfEach(tables, 'DynamoDB table'),
          buckets: statusOfEach(buckets, 'S3 bucket')
        },
        { additionalProperties: false }
      )
    )
  },
  { additionalProperties: false }
)
