import { buildApp } from './app.ts'
import { loadConfig, type Config } from './config.ts'
import type { EmbeddedStack } from './local/embedded-stack.ts'

let config: Config = loadConfig(process.env, 'server')
let stack: EmbeddedStack | undefined
let devKey: { key: string; path: string; created: boolean } | undefined

if (config.embeddedStack) {
  // Loaded only here: a production server never imports the emulators, and only a laptop gets a dev key.
  const [{ startLocalStorage }, { ensureDevApiKey }] = await Promise.all([
    import('./local/storage.ts'),
    import('./auth/dev-key.ts')
  ])
  ;({ config, stack } = await startLocalStorage(config, { dataDir: config.dataDir }))
  const { entry, ...rest } = await ensureDevApiKey(config.dataDir)
  devKey = rest
  config = { ...config, apiKeys: [...config.apiKeys, entry] }
} else if (config.createMissingStorage) {
  // DynamoDB Local, moto or another emulator started by hand: without this every route fails until tables exist.
  const { createMissingStorage } = await import('./local/bootstrap.ts')
  await createMissingStorage(config)
}

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
