import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb'
import { HeadBucketCommand } from '@aws-sdk/client-s3'
import t from 'tap'
import { createAwsClients, destroyAwsClients } from '../src/aws/clients.ts'
import { loadConfig } from '../src/config/config.ts'
import { buckets, tables } from '../src/core/tables.ts'
import { freePort } from '../scripts/lib/processes.mjs'
import { testEngine, type TestTap } from './helper.ts'

/**
 * `npm run dev` pointed at emulators started by hand (the endpoints set): src/entries/server.ts in a process of its own, on
 * names that exist nowhere yet. Resolves with what /health?deep=1 answers once it listens.
 */
async function startServer(
  t: TestTap,
  env: Record<string, string>
): Promise<{ status: number; names: NodeJS.ProcessEnv }> {
  const { dynamodb, s3 } = await testEngine()
  const suffix = randomUUID().slice(0, 8)
  const names: NodeJS.ProcessEnv = {}
  for (const def of [...Object.values(tables), ...Object.values(buckets)])
    names[def.envVar] = `dev-${def.defaultName}-${suffix}`
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/entries/server.ts'], {
    env: {
      ...process.env,
      ...names,
      AWS_ENDPOINT_URL_DYNAMODB: dynamodb,
      AWS_ENDPOINT_URL_S3: s3,
      PORT: String(await freePort()),
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', chunk => {
      output += chunk
      const found = /"msg":"API (http:\/\/[^ "]+)/.exec(output)
      if (found) resolve(found[1]!)
    })
    child.stderr.setEncoding('utf8').on('data', chunk => (output += chunk))
    child.once('exit', code => reject(new Error(`the server exited (${code}):\n${output}`)))
  })
  const res = await fetch(`${url}/health?deep=1`)
  return { status: res.status, names }
}

async function existing(names: NodeJS.ProcessEnv): Promise<string[]> {
  const config = loadConfig({ ...names, ...(await endpoints()) })
  const clients = createAwsClients(config)
  const found: string[] = []
  try {
    for (const [key, name] of Object.entries(config.tables))
      await clients.dynamodb.send(new DescribeTableCommand({ TableName: name })).then(
        () => found.push(`table ${key}`),
        () => {}
      )
    for (const [key, name] of Object.entries(config.buckets))
      await clients.s3.send(new HeadBucketCommand({ Bucket: name })).then(
        () => found.push(`bucket ${key}`),
        () => {}
      )
  } finally {
    destroyAwsClients(clients)
  }
  return found
}

async function endpoints(): Promise<NodeJS.ProcessEnv> {
  const { dynamodb, s3 } = await testEngine()
  return { AWS_ENDPOINT_URL_DYNAMODB: dynamodb, AWS_ENDPOINT_URL_S3: s3 }
}

const everything = [
  ...Object.keys(tables).map(key => `table ${key}`),
  ...Object.keys(buckets).map(key => `bucket ${key}`)
]

t.test('npm run dev against an emulator creates the tables and buckets it lacks', async t => {
  const { status, names } = await startServer(t, { NODE_ENV: 'development' })
  t.equal(status, 200, 'every table and bucket answers')
  t.same(await existing(names), everything)
})

t.test('in production the server creates nothing', async t => {
  const { status, names } = await startServer(t, { NODE_ENV: 'production' })
  t.equal(status, 503, 'the tables are missing, and the deep health check says so')
  t.same(await existing(names), [])
})
