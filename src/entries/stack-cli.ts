/**
 * `npm run stack`: only the embedded DynamoDB and S3, on fixed ports, plus an
 * env file in `sam local --env-vars` format pointing at them.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { EMULATOR_CREDENTIALS } from '../aws/clients.ts'
import { loadConfig } from '../config/config.ts'
import { buckets, tables } from '../core/tables.ts'
import { startLocalStorage } from '../local/storage.ts'

const { values } = parseArgs({
  options: {
    'dynamodb-port': { type: 'string', default: process.env.STACK_DYNAMODB_PORT ?? '8100' },
    's3-port': { type: 'string', default: process.env.STACK_S3_PORT ?? '8101' },
    // sam local runs the function in Docker; it reaches the host through this name.
    'endpoint-host': { type: 'string', default: process.env.STACK_ENDPOINT_HOST ?? 'host.docker.internal' },
    host: { type: 'string', default: process.env.STACK_HOST ?? '0.0.0.0' },
    'env-out': { type: 'string', default: process.env.STACK_ENV_FILE }
  }
})

const base = loadConfig({ ...process.env, AWS_ENDPOINT_URL_DYNAMODB: undefined, AWS_ENDPOINT_URL_S3: undefined })
const dynamodbPort = Number(values['dynamodb-port'])
const s3Port = Number(values['s3-port'])
const { config, stack } = await startLocalStorage(base, {
  dataDir: base.dataDir,
  host: values.host,
  dynamodbPort,
  s3Port
})

const endpointHost = values['endpoint-host']
const parameters: Record<string, string> = {
  AWS_REGION: config.region,
  AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
  AWS_ENDPOINT_URL_DYNAMODB: `http://${endpointHost}:${dynamodbPort}`,
  AWS_ENDPOINT_URL_S3: `http://${endpointHost}:${s3Port}`,
  LOG_LEVEL: config.logLevel
}
for (const [key, def] of Object.entries(tables))
  parameters[def.envVar] = config.tables[key as keyof typeof config.tables]
for (const [key, def] of Object.entries(buckets))
  parameters[def.envVar] = config.buckets[key as keyof typeof config.buckets]

const envFile = resolve(values['env-out'] ?? `${config.dataDir}/stack-env.json`)
await mkdir(dirname(envFile), { recursive: true })
await writeFile(envFile, JSON.stringify({ Parameters: parameters }, null, 2) + '\n')

console.log(`DynamoDB  ${stack.dynamodbEndpoint}`)
console.log(`S3        ${stack.s3Endpoint}`)
console.log(`env file  ${envFile}`)
console.log(`  sam local start-api --env-vars ${envFile}`)
console.log('Ctrl-C stops the stack; data stays in ' + config.dataDir)

const stop = async (): Promise<void> => {
  await stack.close()
  process.exit(0)
}
process.once('SIGINT', () => void stop())
process.once('SIGTERM', () => void stop())
