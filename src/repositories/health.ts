import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3'

export type DependencyStatus = 'ok' | 'unavailable'

export interface HealthRepositoryOptions {
  dynamodb: DynamoDBClient
  s3: S3Client
  table: string
  bucket: string
  timeoutMs?: number
}

/** Reaches each dependency with the cheapest call that proves it answers and our resource exists. */
export class HealthRepository {
  constructor(private readonly options: HealthRepositoryOptions) {}

  async check(): Promise<{ dynamodb: DependencyStatus; s3: DependencyStatus }> {
    const { dynamodb, s3, table, bucket } = this.options
    const [db, bytes] = await Promise.all([
      this.probe(signal => dynamodb.send(new DescribeTableCommand({ TableName: table }), { abortSignal: signal })),
      this.probe(signal => s3.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal }))
    ])
    return { dynamodb: db, s3: bytes }
  }

  private async probe(call: (signal: AbortSignal) => Promise<unknown>): Promise<DependencyStatus> {
    try {
      await call(AbortSignal.timeout(this.options.timeoutMs ?? 2000))
      return 'ok'
    } catch {
      return 'unavailable'
    }
  }
}
