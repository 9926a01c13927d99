import fp from 'fastify-plugin'
import { createAwsClients, destroyAwsClients, type AwsClients } from '../../aws/clients.ts'
import type { Config } from '../../config/config.ts'

declare module 'fastify' {
  interface FastifyInstance {
    aws: AwsClients
  }
}

/**
 * Every AWS client of the app (per Lambda container), reused by every request: DynamoDB and S3 built now,
 * Lambda, Secrets Manager and SSM on first use (src/aws/clients.ts).
 */
export default fp<{ config: Config; clients?: AwsClients }>(
  async (app, { config, clients }) => {
    const aws = clients ?? createAwsClients(config)
    app.decorate('aws', aws)
    // Clients handed in belong to the caller, who closes them.
    if (clients === undefined) app.addHook('onClose', async () => destroyAwsClients(aws))
  },
  { name: 'aws' }
)
