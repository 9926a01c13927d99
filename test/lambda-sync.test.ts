/**
 * /sync on Lambda: POST /sync through an API Gateway event records the run and
 * sends the function its first slice; each slice, handed to the real handler
 * as the asynchronous invocation would, sends the next until the run ends.
 * The schedule's event runs every vault of the configured account.
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb'
import t from 'tap'
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config/config.ts'
import { createLambdaHandler } from '../src/entries/lambda-handler.ts'
import { continuationEvent } from '../src/aws/lambda-events.ts'
import type { Continuation } from '../src/aws/lambda-events.ts'
import type { SyncLauncher } from '../src/sync/launcher.ts'
import { createAwsClients, destroyAwsClients } from '../src/aws/clients.ts'
import { httpApiEvent, lambdaContext } from '../scripts/lib/lambda-events.mjs'
import { emptyVault, startFakeObsidian } from '../scripts/lib/obsidian-stand-in.ts'
import { account, syncKey, VAULT_PASSWORD } from './fixtures/sync.ts'
import { testConfig } from './helper.ts'

const vault = await emptyVault('lambda-vault', VAULT_PASSWORD, 3, 'Lambda notes')
for (let i = 0; i < 12; i++) vault.put(`notes/${String(i).padStart(2, '0')}.md`, `note ${i}`)
const other = await emptyVault('second-vault', 'another vault password', 3, 'Second')
other.put('a.md', 'a')
const service = await startFakeObsidian({ accounts: [account], vaults: [vault, other] })
t.teardown(() => service.close())

const base = await testConfig()
const env: NodeJS.ProcessEnv = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'info',
  AWS_REGION: base.region,
  AWS_ENDPOINT_URL_DYNAMODB: base.endpoints.dynamodb,
  AWS_ENDPOINT_URL_S3: base.endpoints.s3,
  AWS_LAMBDA_FUNCTION_NAME: 'atlas-api',
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
  SYNC_TABLE: base.tables.sync,
  SYNC_BUCKET: base.buckets.sync,
  API_KEYS: JSON.stringify([syncKey.entry]),
  OBSIDIAN_API_URL: service.url,
  OBSIDIAN_EMAIL: account.email,
  OBSIDIAN_PASSWORD: account.password,
  OBSIDIAN_VAULT_PASSWORDS: JSON.stringify({ 'lambda-vault': VAULT_PASSWORD, Second: 'another vault password' }),
  SYNC_PULL_CONCURRENCY: '1',
  SYNC_MAX_HOPS: '100'
}
const config = loadConfig(env, 'lambda')

/** What the function sent itself, as Lambda would deliver it: the invocation's payload, parsed. */
const sent: unknown[] = []
const capture = (): SyncLauncher => ({
  launch: async (next: Continuation) => {
    sent.push(JSON.parse(JSON.stringify(continuationEvent(next))))
  },
  close: async () => {}
})
const logs: string[] = []
const metrics: Array<Record<string, unknown>> = []
const app = await buildApp(config, {
  sync: { launcher: capture, metricsSink: emf => metrics.push(emf) },
  logStream: { write: line => logs.push(line) }
})
const handler = await createLambdaHandler(app, config)
t.teardown(() => app.close())
const invoke = async (event: unknown, timeoutMs = 30_000) =>
  (await handler(event, lambdaContext({ timeoutMs }))) as Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

/** Every continuation delivered, as it was sent. */
const deliveredEvents: Array<Record<string, unknown>> = []

/** Delivers every continuation the function sent itself, each with a short invocation, until none is left. */
async function drain(timeoutMs: number): Promise<number> {
  let delivered = 0
  for (let event = sent.shift(); event !== undefined; event = sent.shift()) {
    t.match(event, { sync_run: String, hop: Number }, 'a continuation event')
    deliveredEvents.push(event as Record<string, unknown>)
    await invoke(event, timeoutMs)
    delivered++
    if (delivered > 200) throw new Error('the run never ended')
  }
  return delivered
}

const api = (method: string, path: string, body?: unknown) =>
  invoke(
    httpApiEvent({
      method,
      path,
      headers: { 'x-api-key': syncKey.key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
  )

t.test('POST /sync through API Gateway: the run continues in invocations of its own, many of them short', async t => {
  const accepted = await api('POST', '/sync', {
    vault_id: vault.id,
    sync_type: 'complete',
    email: account.email,
    password: account.password,
    vault_password: VAULT_PASSWORD
  })
  t.equal(accepted.statusCode, 202, accepted.body)
  const { run_id: runId } = JSON.parse(accepted.body)
  t.equal(accepted.headers.location, `/sync/runs/${runId}`)
  t.equal(sent.length, 1, 'the request sent the first slice and did no sync work itself')
  t.match(sent[0], { sync_run: runId, hop: 1, credentials: { email: account.email, vaultPassword: VAULT_PASSWORD } })

  // 300 ms invocations: each slice gets half of that, so the run takes several.
  const slices = await drain(300)
  const run = JSON.parse((await api('GET', `/sync/runs/${runId}`)).body)
  t.equal(run.status, 'succeeded', JSON.stringify(run.result?.errors))
  t.ok(slices > 1, `${slices} slices`)
  t.equal(run.hops, slices)
  t.match(run.vaults, [{ vault_id: vault.id, files_pulled: 12 }])
  const files = JSON.parse((await api('GET', `/sync/vaults/${vault.id}/files?limit=100`)).body).files
  t.equal(files.length, 12)

  const clients = createAwsClients(config)
  t.teardown(() => destroyAwsClients(clients))
  // The first slice signed in; the others got its token in their events, as the credentials travel.
  t.equal(service.calls.get('/user/signin'), 1, 'one sign-in for the whole run')
  t.equal(service.calls.get('/user/signout'), 1, 'one sign-out, at its end')
  const token = deliveredEvents[1]?.token
  t.type(token, 'string', 'the token travels in the continuation events')
  t.ok(
    deliveredEvents.slice(1).every(event => event.token === token),
    'every slice after the first has it'
  )
  const stored = JSON.stringify(await clients.dynamodb.send(new ScanCommand({ TableName: config.tables.sync })))
  for (const secret of [account.password, VAULT_PASSWORD, token as string])
    t.notOk(stored.includes(secret), 'the request credentials and the token are nowhere in the sync table')
  t.notOk(
    logs.some(
      line => line.includes(account.password) || line.includes(VAULT_PASSWORD) || line.includes(token as string)
    ),
    'nor in any log line'
  )
  t.ok(
    metrics.some(
      m =>
        JSON.stringify(m).includes('"FilesProcessed"') &&
        (m as { VaultId?: string }).VaultId === vault.id &&
        (m as { FunctionName?: string }).FunctionName === 'atlas-api' &&
        /"Dimensions":\[\["service","VaultId","FunctionName"\]\]/.test(JSON.stringify(m))
    ),
    'per-vault metrics in embedded metric format, by vault and function'
  )
  t.equal(run.result.details.lambda_memory, '1024', "the function's memory in the SyncResponse")
})

t.test('the scheduled event syncs every vault of the configured account, incrementally', async t => {
  vault.put('notes/00.md', 'note 0, edited')
  // As `aws lambda invoke --payload '{"sync_type":"incremental"}'` does: a run that ends in the invocation
  // answers with its SyncResponse.
  const result = await invoke({ sync_type: 'incremental' }, 30_000)
  t.match(result, { run_id: String, success: true, vaults_synced: Array, details: { lambda_memory: '1024' } })
  t.equal(await drain(30_000), 0, 'it ended in that one invocation')
  const run = JSON.parse((await api('GET', `/sync/runs/${result.run_id}`)).body)
  t.equal(run.trigger, 'schedule')
  t.equal(run.status, 'succeeded', JSON.stringify(run.result?.errors))
  t.same(run.result.vaults_synced.sort(), ['lambda-vault', 'second-vault'])
  const byVault = Object.fromEntries(run.vaults.map((v: { vault_id: string }) => [v.vault_id, v]))
  t.match(byVault['lambda-vault'], { files_pulled: 1 }, 'only the edit is pulled')
  t.match(byVault['second-vault'], { files_pulled: 1 }, 'the other vault, found by its name in the passwords')
  const runMetric = metrics.find(m => (m as { Trigger?: string }).Trigger === 'schedule') as Record<string, unknown>
  t.equal(runMetric?.SyncRunSuccess, 1, 'SyncRunSuccess for the schedule, which the alarm watches')
  t.match(JSON.stringify(runMetric), /"Dimensions":\[\["service","Trigger"\]\]/, "the alarm's dimensions")
})

t.test('a continuation for a run that has ended does nothing', async t => {
  const runs = JSON.parse((await api('GET', '/sync/runs?limit=1')).body).runs
  const before = JSON.parse((await api('GET', `/sync/runs/${runs[0].run_id}`)).body)
  await invoke({ sync_run: runs[0].run_id, hop: 7 })
  const after = JSON.parse((await api('GET', `/sync/runs/${runs[0].run_id}`)).body)
  t.same(after, before)
  t.equal(sent.length, 0)
})

t.test('a direct invocation whose run goes on past it answers with the run id', async t => {
  // More than a 150 ms slice can do.
  for (let i = 0; i < 40; i++) vault.put(`more/${i}.md`, `more ${i}`)
  const result = await invoke({ sync_type: 'complete' }, 300)
  t.match(result, { sync_run: String })
  t.notOk('success' in result, 'no result yet')
  await drain(30_000)
  const run = JSON.parse((await api('GET', `/sync/runs/${result.sync_run}`)).body)
  t.equal(run.status, 'succeeded', JSON.stringify(run.result?.errors))
})

t.test('POST /sync/exports through API Gateway: the export is written in an invocation of its own', async t => {
  const accepted = await api('POST', '/sync/exports', { vault_id: vault.id })
  t.equal(accepted.statusCode, 202, accepted.body)
  const { export_id: exportId } = JSON.parse(accepted.body)
  t.equal(accepted.headers.location, `/sync/exports/${exportId}`)
  t.match(sent, [{ sync_run: exportId, hop: 1, kind: 'export' }], 'its slice sent with its kind, and no work done')
  t.equal(await drain(30_000), 1, 'one slice wrote it')
  const exported = JSON.parse((await api('GET', `/sync/exports/${exportId}`)).body)
  t.match(exported, { status: 'succeeded', files_count: 52, url: String, errors: [] })
})
