import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { S3Client } from '@aws-sdk/client-s3'
import type { LambdaClient } from '@aws-sdk/client-lambda'
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import type { SSMClient } from '@aws-sdk/client-ssm'

/**
 * Every AWS client the app uses, one of each, on credentials worked out once.
 * DynamoDB and S3 are built at once: every repository holds them from init.
 * The others are built on first call, their SDK module imported then, so a
 * cold start that needs none of them never loads it.
 */
export interface AwsClients {
  dynamodb: DynamoDBClient
  s3: S3Client
  /** The sync launcher's: a run's next slice is an asynchronous self-invocation. */
  lambda: () => Promise<LambdaClient>
  /** Secrets read by id or ARN (API_KEYS_SECRET, OBSIDIAN_SECRET). */
  secretsManager: () => Promise<SecretsManagerClient>
  /** Secrets read as `ssm:<parameter name>`. */
  ssm: () => Promise<SSMClient>
  /** Destroys every client built so far. */
  destroy: () => void
}

/**
 * Fixed credentials keep the SDK from walking the default chain (and probing
 * instance metadata) on a laptop. Every engine here (dynalite, the embedded S3,
 * DynamoDB Local, moto) accepts any pair; this one is kept for data written by
 * earlier embedded stacks.
 */
export const EMULATOR_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }

/** What the clients are built from (Config has it): AWS sits below config, so it names only what it reads. */
export interface AwsClientsConfig {
  region: string
  endpoints: { dynamodb?: string; s3?: string; secretsManager?: string; ssm?: string; lambda?: string }
  useEmulatorCredentials: boolean
}

export function createAwsClients(config: AwsClientsConfig): AwsClients {
  // The one place credentials are decided: the emulators' pair, else the SDK's default chain (the function's role).
  const common = {
    region: config.region,
    credentials: config.useEmulatorCredentials ? EMULATOR_CREDENTIALS : undefined,
    maxAttempts: 3
  }
  // Fail fast: a request that hangs on a dead dependency becomes a 503, not a Lambda timeout.
  const requestHandler = { connectionTimeout: 2000, requestTimeout: 10_000 }
  const built: Array<{ destroy: () => void }> = []
  /** The client `make` builds, made on the first call and kept; a failed import is tried again next time. */
  const lazy = <T extends { destroy: () => void }>(make: () => Promise<T>): (() => Promise<T>) => {
    let client: Promise<T> | undefined
    return () =>
      (client ??= make().then(
        made => {
          built.push(made)
          return made
        },
        (err: unknown) => {
          client = undefined
          throw err
        }
      ))
  }
  const dynamodb = new DynamoDBClient({ ...common, endpoint: config.endpoints.dynamodb, requestHandler })
  const s3 = new S3Client({
    ...common,
    endpoint: config.endpoints.s3,
    // Emulators serve buckets by path, not by virtual host.
    forcePathStyle: config.endpoints.s3 !== undefined,
    // Otherwise presigned PUTs carry the checksum of an empty body, and S3 refuses the real upload.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    requestHandler
  })
  built.push(dynamodb, s3)
  return {
    dynamodb,
    s3,
    lambda: lazy(async () => {
      const { LambdaClient } = await import('@aws-sdk/client-lambda')
      return new LambdaClient({ ...common, endpoint: config.endpoints.lambda })
    }),
    secretsManager: lazy(async () => {
      const { SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager')
      return new SecretsManagerClient({ ...common, endpoint: config.endpoints.secretsManager })
    }),
    ssm: lazy(async () => {
      const { SSMClient } = await import('@aws-sdk/client-ssm')
      return new SSMClient({ ...common, endpoint: config.endpoints.ssm })
    }),
    destroy: () => {
      for (const client of built.splice(0)) client.destroy()
    }
  }
}

export function destroyAwsClients(clients: AwsClients): void {
  clients.destroy()
}
