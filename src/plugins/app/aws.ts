import fp from 'fastify-plugin'
import { createAwsClients, destroyAwsClients, type AwsClients } from '../../aws-clients.ts'
import type { Config } from '../../config.ts'

declare module 'fastify' {
  interface FastifyInstance {
    aws: AwsClients
  }
}

/** One DynamoDB and one S3 client per app (per Lambda container), reused by every request. */
export default fp<{ config: Config; clients?: AwsClients }>(
  async (app, { config, clients }) => {
    const aws = clients ?? createAwsClients(config)
    app.decorate('aws', aws)
    // Clients handed in belong to the caller, who closes them.
    if (clients === undefined) app.addHook('onClose', async () => destroyAwsClients(aws))
  },
  { name: 'aws' }
)
