import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { S3Client } from '@aws-sdk/client-s3'
import type { Config } from './config.ts'

export interface AwsClients {
  dynamodb: DynamoDBClient
  s3: S3Client
}

/**
 * Fixed credentials keep the SDK from walking the default chain (and probing
 * instance metadata) on a laptop. Every engine here (dynalite, the embedded S3,
 * DynamoDB Local, moto) accepts any pair; this one is kept for data written by
 * earlier embedded stacks.
 */
export const EMULATOR_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }

export function createAwsClients(config: Pick<Config, 'region' | 'endpoints' | 'useEmulatorCredentials'>): AwsClients {
  const credentials = config.useEmulatorCredentials ? EMULATOR_CREDENTIALS : undefined
  // Fail fast: a request that hangs on a dead dependency becomes a 503, not a Lambda timeout.
  const requestHandler = { connectionTimeout: 2000, requestTimeout: 10_000 }
  return {
    dynamodb: new DynamoDBClient({
      region: config.region,
      endpoint: config.endpoints.dynamodb,
      credentials,
      maxAttempts: 3,
      requestHandler
    }),
    s3: new S3Client({
      region: config.region,
      endpoint: config.endpoints.s3,
      credentials,
      // Emulators serve buckets by path, not by virtual host.
      forcePathStyle: config.endpoints.s3 !== undefined,
      // Otherwise presigned PUTs carry the checksum of an empty body, and S3 refuses the real upload.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      maxAttempts: 3,
      requestHandler
    })
  }
}

export function destroyAwsClients(clients: AwsClients): void {
  clients.dynamodb.destroy()
  clients.s3.destroy()
}
