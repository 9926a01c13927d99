import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import type { AwsClients } from './aws-clients.ts'
import type { Config } from './config.ts'
import { loggerOptions } from './logger.ts'
import awsPlugin from './plugins/aws.ts'
import corsPlugin from './plugins/cors.ts'
import errorsPlugin from './plugins/errors.ts'
import openapiPlugin from './plugins/openapi.ts'
import repositoriesPlugin from './plugins/repositories.ts'
import dataRoutes from './routes/data.ts'
import healthRoutes from './routes/health.ts'
import { validatorCompiler } from './validation.ts'

export interface BuildOptions {
  /** Clients to use instead of building them from config; the caller closes them. */
  clients?: AwsClients
  dataInlinePayloadBytes?: number
  docsStaticDir?: string
}

/**
 * The one app, for the HTTP server, the Lambda handler and tests alike. Registers
 * plugins, then routes; not yet ready, so an adapter can still decorate it.
 */
export async function buildApp (config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(config),
    // On Lambda, lambda.ts puts API Gateway's request id in this header; elsewhere clients cannot choose ours.
    requestIdHeader: config.runtime === 'lambda' ? 'x-request-id' : false,
    genReqId: () => randomUUID(),
    trustProxy: config.runtime === 'lambda',
    bodyLimit: 1024 * 1024
  })
  app.setValidatorCompiler(validatorCompiler)
  // JSON in and out: any other body is 415, not a string the schema then rejects.
  app.removeContentTypeParser('text/plain')
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })

  await app.register(errorsPlugin)
  await app.register(corsPlugin, { config })
  await app.register(openapiPlugin, { config, uiStaticDir: options.docsStaticDir })
  await app.register(awsPlugin, { config, clients: options.clients })
  await app.register(repositoriesPlugin, { config, dataInlinePayloadBytes: options.dataInlinePayloadBytes })

  await app.register(healthRoutes, { config })
  await app.register(dataRoutes)
  return app
}
