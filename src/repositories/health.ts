import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3'

export type DependencyStatus = 'ok' | 'unavailable'

export interface HealthRepositoryOptions {
  dynamodb: DynamoDBClient
  s3: S3Client
  /** Every table the app uses, by its key in src/core/tables.ts. */
  tables: Record<string, string>
  /** Every bucket the app uses, by its key in src/core/tables.ts. */
  buckets: Record<string, string>
  /** Each probe gives up after this long: a check that hangs must not hold the health route. */
  timeoutMs?: number
}

export interface HealthChecks {
  /** `ok` when every table answers. */
  dynamodb: DependencyStatus
  /** `ok` when every bucket answers. */
  s3: DependencyStatus
  tables: Record<string, DependencyStatus>
  buckets: Record<string, DependencyStatus>
}

export const HEALTH_PROBE_TIMEOUT_MS = 1500

/**
 * Reaches every table and bucket with the cheapest call that proves it answers and exists (DescribeTable,
 * HeadBucket), all at once, each with its own timeout, and says which failed.
 */
export class HealthRepository {
  constructor(private readonly options: HealthRepositoryOptions) {}

  async check(): Promise<HealthChecks> {
    const { dynamodb, s3 } = this.options
    const [tables, buckets] = await Promise.all([
      this.probeEach(this.options.tables, (name, signal) =>
        dynamodb.send(new DescribeTableCommand({ TableName: name }), { abortSignal: signal })
      ),
      this.probeEach(this.options.buckets, (name, signal) =>
        s3.send(new HeadBucketCommand({ Bucket: name }), { abortSignal: signal })
      )
    ])
    const all = (statuses: Record<string, DependencyStatus>): DependencyStatus =>
      Object.values(statuses).every(status => status === 'ok') ? 'ok' : 'unavailable'
    return { dynamodb: all(tables), s3: all(buckets), tables, buckets }
  }

  private async probeEach(
    names: Record<string, string>,
    call: (name: string, signal: AbortSignal) => Promise<unknown>
  ): Promise<Record<string, DependencyStatus>> {
    const timeoutMs = this.options.timeoutMs ?? HEALTH_PROBE_TIMEOUT_MS
    const entries = await Promise.all(
      Object.entries(names).map(async ([key, name]) => {
        try {
          await call(name, AbortSignal.timeout(timeoutMs))
          return [key, 'ok'] as const
        } catch {
          return [key, 'unavailable'] as const
        }
      })
    )
    return Object.fromEntries(entries)
  }
}
