import { buildApp } from '../app.ts'
import { loadConfig } from '../config/config.ts'
import { prepareStorage } from './boot.ts'

const { config, stack, devKey } = await prepareStorage(loadConfig(process.env, 'server'), { devKey: true })

const app = await buildApp(config)

let closing = false
async function shutdown(signal: string): Promise<void> {
  if (closing) return
  closing = true
  app.log.info({ signal }, 'shutting down')
  await app.close()
  await stack?.close()
  process.exit(0)
}
process.once('SIGINT', () => void shutdown('SIGINT'))
process.once('SIGTERM', () => void shutdown('SIGTERM'))

try {
  await app.listen({ port: config.port, host: config.host })
} catch (err) {
  app.log.error({ err }, 'could not listen')
  await stack?.close()
  process.exit(1)
}

const base = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`
app.log.info(
  stack
    ? `API ${base}  docs ${base}/docs  (embedded DynamoDB ${stack.dynamodbEndpoint}, S3 ${stack.s3Endpoint}, data in ${config.dataDir})`
    : `API ${base}  docs ${base}/docs`
)
if (devKey) {
  app.log.info(
    `${devKey.created ? 'created' : 'using'} the dev API key (every scope), kept in ${devKey.path}:\n  curl -H 'x-api-key: ${devKey.key}' ${base}/...`
  )
}
