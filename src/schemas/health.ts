import { Type } from '@sinclair/typebox'

const DependencyStatus = Type.Union([Type.Literal('ok'), Type.Literal('unavailable')])

export const HealthQuery = Type.Object(
  {
    deep: Type.Optional(
      Type.Union([Type.Literal('1'), Type.Literal('true'), Type.Literal('0'), Type.Literal('false')], {
        description: 'With 1 or true, also check that DynamoDB and S3 answer'
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
      Type.Object({ dynamodb: DependencyStatus, s3: DependencyStatus }, { additionalProperties: false })
    )
  },
  { additionalProperties: false }
)
