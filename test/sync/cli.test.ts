import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GetObjectCommand } from '@aws-sdk/client-s3'
import t from 'tap'
import { createAwsClients, destroyAwsClients } from '../../src/aws/clients.ts'
import type { Config } from '../../src/config/config.ts'
import { startEmbeddedStack } from '../../src/local/embedded-stack.ts'
import { buckets, tables } from '../../src/core/tables.ts'
import { startFakeObsidian } from '../../scripts/lib/obsidian-stand-in.ts'
import {
  fillWithSample,
  SAMPLE_ACCOUNT,
  SAMPLE_FILES,
  SAMPLE_VAULT_PASSWORD,
  sampleVault
} from '../../scripts/lib/sample-vault.ts'
import { account, syncBed, VAULT_PASSWORD } from '../fixtures/sync.ts'

const CLI = fileURLToPath(new URL('../../src/entries/sync-cli.ts', import.meta.url))
const DEMO = fileURLToPath(new URL('../../scripts/obsidian-demo.ts', import.meta.url))

interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

/** `npm run sync -- …args` in a process of its own, with `env` on top of this one's (minus its AWS endpoints). */
async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const base = { ...process.env }
  delete base.AWS_ENDPOINT_URL_DYNAMODB
  delete base.AWS_ENDPOINT_URL_S3
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    env: { ...base, NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', chunk => (stdout += chunk))
  child.stderr.on('data', chunk => (stderr += chunk))
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  return { code, stdout, stderr }
}

/** The settings that point a process at the same tables and buckets as `config`. */
function storageEnv(config: Config): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    AWS_ENDPOINT_URL_DYNAMODB: config.endpoints.dynamodb,
    AWS_ENDPOINT_URL_S3: config.endpoints.s3,
    AWS_REGION: config.region
  }
  for (const [key, def] of Object.entries(tables)) env[def.envVar] = config.tables[key as keyof typeof config.tables]
  for (const [key, def] of Object.entries(buckets)) env[def.envVar] = config.buckets[key as keyof typeof config.buckets]
  return env
}

t.test('a complete then an incremental run against the configured stack: exit 0, files in S3', async t => {
  const bed = await syncBed(t)
  fillWithSample(bed.vault)
  const env = {
    ...storageEnv(bed.config),
    OBSIDIAN_API_URL: bed.service.url,
    OBSIDIAN_EMAIL: account.email,
    OBSIDIAN_PASSWORD: account.password,
    OBSIDIAN_VAULT_PASSWORDS: JSON.stringify({ [bed.vault.id]: VAULT_PASSWORD })
  }

  const first = await runCli(['--complete'], env)
  t.equal(first.code, 0, 'exit code 0', { stderr: first.stderr })
  const result = JSON.parse(first.stdout)
  t.match(result, {
    success: true,
    vaults_synced: [bed.vault.id],
    files_count: 5,
    details: { sync_type: 'complete', trigger: 'cli' }
  })
  t.match(first.stderr, /vault-1 \(Notes\): 5 pulled, 0 skipped, 0 deleted, [\d.]+ KiB \[ok\]/, 'progress per vault')
  const objects = await bed.objects()
  t.same(
    [...objects.keys()].sort(),
    Object.keys(SAMPLE_FILES)
      .map(p => `vaults/${bed.vault.id}/${p}`)
      .sort()
  )
  for (const [path, content] of Object.entries(SAMPLE_FILES))
    t.ok(objects.get(`vaults/${bed.vault.id}/${path}`)!.body.equals(Buffer.from(content)), path)

  bed.vault.put('Daily/2026-12-01.md', '# 2026-12-01\n\nEdited.\n')
  const pulls = bed.service.pulls.get(bed.vault.id)!.length
  const second = await runCli([], env)
  t.equal(second.code, 0, 'exit code 0', { stderr: second.stderr })
  t.match(JSON.parse(second.stdout), { success: true, details: { sync_type: 'incremental', trigger: 'cli' } })
  t.match(second.stderr, /1 pulled, 0 skipped, 0 deleted/)
  t.equal(bed.service.pulls.get(bed.vault.id)!.length - pulls, 1, 'only the edited file is pulled')
  t.equal(
    (await bed.objects()).get(`vaults/${bed.vault.id}/Daily/2026-12-01.md`)!.body.toString(),
    '# 2026-12-01\n\nEdited.\n'
  )
})

t.test('a run that fails exits 1 and still prints its result', async t => {
  const bed = await syncBed(t)
  fillWithSample(bed.vault)
  const run = await runCli(['--vault', bed.vault.id], {
    ...storageEnv(bed.config),
    OBSIDIAN_API_URL: bed.service.url,
    OBSIDIAN_EMAIL: account.email,
    OBSIDIAN_PASSWORD: account.password,
    OBSIDIAN_VAULT_PASSWORDS: JSON.stringify({ [bed.vault.id]: 'not the vault password' })
  })
  t.equal(run.code, 1, 'exit code 1', { stderr: run.stderr })
  const result = JSON.parse(run.stdout)
  t.match(result, { success: false, vaults_synced: [] })
  t.match(result.errors.join('\n'), /vault-1:/)
  t.equal((await bed.objects()).size, 0, 'nothing written')
})

t.test('no account configured: nothing starts, exit 1', async t => {
  const bed = await syncBed(t)
  const run = await runCli([], { ...storageEnv(bed.config), OBSIDIAN_EMAIL: '', OBSIDIAN_PASSWORD: '' })
  t.equal(run.code, 1)
  t.match(run.stderr, /The run was not started: No Obsidian account/)
  t.equal(run.stdout, '')
})

t.test('a wrong command line exits 2 with the usage', async t => {
  const run = await runCli(['--vaults', 'x'], {})
  t.equal(run.code, 2)
  t.match(run.stderr, /usage: npm run sync -- \[--vault ID\] \[--complete\]/)
})

t.test('pointed at emulators without tables or buckets, it creates them first, as npm run dev does', async t => {
  const dataDir = await mkdtemp(join(tmpdir(), 'atlas-sync-cli-bare-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  // A bare stack: DynamoDB and S3 with nothing in them, like DynamoDB Local and moto started by hand.
  const stack = await startEmbeddedStack({ dataDir })
  t.teardown(() => stack.close())
  const vault = await sampleVault()
  const service = await startFakeObsidian({ accounts: [SAMPLE_ACCOUNT], vaults: [vault] })
  t.teardown(() => service.close())
  const run = await runCli(['--vault', vault.id, '--complete'], {
    AWS_ENDPOINT_URL_DYNAMODB: stack.dynamodbEndpoint,
    AWS_ENDPOINT_URL_S3: stack.s3Endpoint,
    OBSIDIAN_API_URL: service.url,
    OBSIDIAN_EMAIL: SAMPLE_ACCOUNT.email,
    OBSIDIAN_PASSWORD: SAMPLE_ACCOUNT.password,
    OBSIDIAN_VAULT_PASSWORDS: JSON.stringify({ [vault.id]: SAMPLE_VAULT_PASSWORD })
  })
  t.equal(run.code, 0, 'exit code 0', { stderr: run.stderr })
  t.match(JSON.parse(run.stdout), { success: true, vaults_synced: [vault.id], files_count: 5 })
})

t.test('with no AWS endpoint it starts the embedded stack under DATA_DIR, as npm run dev does', async t => {
  const dataDir = await mkdtemp(join(tmpdir(), 'atlas-sync-cli-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const vault = await sampleVault()
  const service = await startFakeObsidian({ accounts: [SAMPLE_ACCOUNT], vaults: [vault] })
  t.teardown(() => service.close())
  const env = {
    DATA_DIR: dataDir,
    OBSIDIAN_API_URL: service.url,
    OBSIDIAN_EMAIL: SAMPLE_ACCOUNT.email,
    OBSIDIAN_PASSWORD: SAMPLE_ACCOUNT.password,
    OBSIDIAN_VAULT_PASSWORDS: JSON.stringify({ [vault.id]: SAMPLE_VAULT_PASSWORD })
  }
  const run = await runCli(['--vault', vault.id, '--complete'], env)
  t.equal(run.code, 0, 'exit code 0', { stderr: run.stderr })
  t.match(JSON.parse(run.stdout), { success: true, vaults_synced: [vault.id], files_count: 5 })

  // The stack keeps what the run wrote: open it again on the same folder and read the files back.
  const stack = await startEmbeddedStack({ dataDir })
  const clients = createAwsClients({
    region: 'us-east-1',
    endpoints: { dynamodb: stack.dynamodbEndpoint, s3: stack.s3Endpoint },
    useEmulatorCredentials: true
  })
  try {
    for (const [path, content] of Object.entries(SAMPLE_FILES)) {
      const object = await clients.s3.send(
        new GetObjectCommand({ Bucket: buckets.sync.defaultName, Key: `vaults/${vault.id}/${path}` })
      )
      t.ok(Buffer.from(await object.Body!.transformToByteArray()).equals(Buffer.from(content)), path)
    }
  } finally {
    destroyAwsClients(clients)
    await stack.close()
  }

  // The state is kept too: an incremental run finds nothing new and pulls nothing.
  const pulls = service.pulls.get(vault.id)!.length
  const again = await runCli([], env)
  t.equal(again.code, 0, 'exit code 0', { stderr: again.stderr })
  t.match(JSON.parse(again.stdout), { success: true, files_count: 0 })
  t.equal(service.pulls.get(vault.id)!.length, pulls)
})

t.test('a DATA_DIR another process holds (npm run dev): exit 1, saying so', async t => {
  const dataDir = await mkdtemp(join(tmpdir(), 'atlas-sync-cli-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const held = await startEmbeddedStack({ dataDir })
  t.teardown(() => held.close())
  const run = await runCli([], {
    DATA_DIR: dataDir,
    OBSIDIAN_EMAIL: SAMPLE_ACCOUNT.email,
    OBSIDIAN_PASSWORD: SAMPLE_ACCOUNT.password
  })
  t.equal(run.code, 1)
  t.match(run.stderr, `is npm run dev or npm run stack using ${dataDir}?`)
  t.equal(run.stdout, '')
})

t.test('the settings npm run obsidian:demo prints point npm run sync at its sample vault', async t => {
  const port = await new Promise<number>(resolve => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })
  const demo = spawn(process.execPath, ['--import', 'tsx', DEMO, '--port', String(port)], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '3000' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  t.teardown(() => {
    demo.kill()
  })
  let printed = ''
  await new Promise<void>((resolve, reject) => {
    demo.stdout.on('data', chunk => {
      printed += chunk
      if (printed.includes('Ctrl-C stops')) resolve()
    })
    demo.once('exit', code => reject(new Error(`the demo exited with ${code}: ${printed}`)))
  })
  // `export NAME=value`, the value single-quoted for the shell where it needs to be.
  const settings = Object.fromEntries(
    [...printed.matchAll(/^ {2}export (\w+)=(.*)$/gm)].map(([, name, value]) => [
      name!,
      value!.startsWith("'") ? value!.slice(1, -1).replaceAll(`'\\''`, "'") : value!
    ])
  )
  t.same(Object.keys(settings), ['OBSIDIAN_API_URL', 'OBSIDIAN_EMAIL', 'OBSIDIAN_PASSWORD', 'OBSIDIAN_VAULT_PASSWORDS'])
  t.equal(settings.OBSIDIAN_API_URL, `http://127.0.0.1:${port}`)
  t.match(printed, /curl -s -X POST .*'http:\/\/127\.0\.0\.1:3000\/sync\?wait=20'/)
  t.match(printed, /curl -s -H "x-api-key: \$KEY" http:\/\/127\.0\.0\.1:3000\/sync\/runs\//)

  const dataDir = await mkdtemp(join(tmpdir(), 'atlas-sync-demo-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const run = await runCli(['--complete'], { ...settings, DATA_DIR: dataDir })
  t.equal(run.code, 0, 'exit code 0', { stderr: run.stderr })
  t.match(JSON.parse(run.stdout), { success: true, vaults_synced: ['demo-vault'], files_count: 5 })
})
