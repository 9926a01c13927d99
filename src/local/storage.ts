import { createAwsClients, destroyAwsClients } from '../aws/clients.ts'
import type { Config } from '../config/config.ts'
import { bootstrapStorage } from './bootstrap.ts'
import { startEmbeddedStack, type EmbeddedStack, type EmbeddedStackOptions } from './embedded-stack.ts'

/**
 * Starts the embedded stack, creates the tables and buckets in it, and returns
 * the config pointed at it.
 */
export async function startLocalStorage(
  config: Config,
  options: EmbeddedStackOptions
): Promise<{ config: Config; stack: EmbeddedStack }> {
  const stack = await startEmbeddedStack(options)
  const local: Config = {
    ...config,
    endpoints: { dynamodb: stack.dynamodbEndpoint, s3: stack.s3Endpoint },
    useEmulatorCredentials: true
  }
  const clients = createAwsClients(local)
  try {
    await bootstrapStorage(clients, local)
  } catch (err) {
    await stack.close()
    throw err
  } finally {
    destroyAwsClients(clients)
  }
  return { config: local, stack }
}
