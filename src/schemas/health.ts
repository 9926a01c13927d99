import { Type } from '@sinclair/typebox'
import { buckets, tables } from '../core/tables.ts'
import { errorProperties } from './common.ts'

const DependencyStatus = Type.Union([Type.Literal('ok'), Type.Literal('unavailable')])

/** One status per table (or bucket) of src/core/tables.ts, by its key there. */
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

const Checks = Type.Object(
  {
    dynamodb: Type.Union(DependencyStatus.anyOf, { description: 'ok when every table answers' }),
    s3: Type.Union(DependencyStatus.anyOf, { description: 'ok when every bucket answers' }),
    tables: statusOfEach(tables, 'DynamoDB table'),
    buckets: statusOfEach(buckets, 'S3 bucket')
  },
  { additionalProperties: false }
)

const version = Type.String({ description: 'The deployed application version' })
const uptime = Type.Number({ description: 'Seconds since this process (or Lambda container) started' })

export const HealthResponse = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
    version,
    uptime,
    checks: Type.Optional(Checks)
  },
  { additionalProperties: false }
)

/** A deep check that found a table or bucket unreachable: an error like any 503, with the health fields beside. */
export const HealthDegraded = Type.Object(
  {
    ...errorProperties,
    code: Type.Literal('DEPENDENCY_UNAVAILABLE'),
    status: Type.Literal('degraded'),
    version,
    uptime,
    checks: Checks
  },
  {
    additionalProperties: false,
    description: 'A table or bucket is unreachable (deep check only): checks names it; retry after Retry-After seconds'
  }
)
