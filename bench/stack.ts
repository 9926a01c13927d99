import { createAwsClients, destroyAwsClients } from '../src/aws/clients.ts'
import { loadConfig, type Config } from '../src/config/config.ts'
import { bootstrapStorage } from '../src/local/bootstrap.ts'
import { startEmbeddedStack } from '../src/local/embedded-stack.ts'

/**
 * The embedded stack for a benchmark (dynalite in memory, the embedded S3) and a quiet
 * config on it, tables and buckets created; rate limits out of the way.
 */
export async function benchStack(env: NodeJS.ProcessEnv = {}): Promise<{ config: Config; close: () => Promise<void> }> {
  const stack = await startEmbeddedStack()
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    AWS_ENDPOINT_URL_DYNAMODB: stack.dynamodbEndpoint,
    AWS_ENDPOINT_URL_S3: stack.s3Endpoint,
    RATE_LIMIT_MAX: '100000000',
    ...env
  })
  const clients = createAwsClients(config)
  await bootstrapStorage(clients, config)
  destroyAwsClients(clients)
  return { config, close: () => stack.close() }
}
