/**
 * `npm run bench:sync [-- --files 5000 --big-mib 100]`: one vault of --files
 * files (one of them --big-mib MiB, the rest 1 to 40 KiB: about 200 MiB in
 * all by default) through the real engine (buildApp, app.sync.runs), from the
 * stand-in for Obsidian Sync into the embedded stack.
 *
 * The syncing side runs as it is deployed: bench/sync-runner.ts bundled with
 * the Lambda's esbuild options and schemas precompiled as `npm run build` does
 * them, started with plain `node` (this Node, or another major with --node 24,
 * from the npm package `node@24` as `npm run bench:cold` gets it). The stand-in
 * and the stack run in a process of their own (bench/sync-services.ts), so the
 * memory measured is the syncing process's alone, as on Lambda.
 *
 * A complete run: files/s, MiB/s and the peak RSS (sampled every 20 ms, and
 * the kernel's maxRSS), beside the idle app's RSS in the same process as the
 * floor. Then 1 % of the files get a new version and an incremental run must
 * pull exactly those (the services count every pull they serve): exit 1 when it
 * does not, or when a run does not succeed. Last, the vault is exported (one zip
 * streamed into the sync bucket, src/sync/export/): its files/s, MiB/s and peak
 * RSS, exit 1 unless it holds every file. The memory goal (256 MiB) is
 * reported, not enforced.
 *
 * SYNC_* settings (SYNC_PULL_CONCURRENCY …) and NODE_OPTIONS reach the syncing
 * process as they would reach the function. `npm run bench:sync -- --live`
 * collects garbage before every sample: the peaks are then what is live (and
 * the run slower).
 *
 * Last, a restore of the vault as it is now into a new end-to-end vault of the
 * stand-in (POST /sync/restores' service): files/s, MiB/s and its peak RSS;
 * exit 1 unless it succeeds having uploaded every file once.
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { arch, cpus, platform, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import * as esbuild from 'esbuild'
import { lambdaBuildOptions, PRECOMPILED_SCHEMAS_ALIAS } from '../scripts/esbuild-options.mjs'
import { commandLine, lambdaNodeCommand, nodeBinary } from '../scripts/lib/bench-node.mjs'
import type { SyncType, VaultProgress } from '../src/repositories/sync-runs.ts'
import type { Peaks, RunnerReply, RunnerRequest } from './sync-runner.ts'
import type { ServicesReady, ServicesReply, ServicesRequest } from './sync-services.ts'

const MIB = 1024 * 1024
const RSS_GOAL_MIB = 256
const root = join(dirname(fileURLToPath(import.meta.url)), '..')

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '5000' },
    'big-mib': { type: 'string', default: '100' },
    node: { type: 'string' },
    live: { type: 'boolean', default: false }
  }
})
const files = Number(values.files)
const bigMib = Number(values['big-mib'])
if (!Number.isInteger(files) || files < 2 || !Number.isFinite(bigMib) || bigMib < 0) {
  console.error('--files must be an integer of at least 2 and --big-mib a number of MiB')
  process.exit(2)
}

const node = values.node === undefined ? process.execPath : nodeBinary(Number(values.node))

// The schemas precompiled as `npm run build` does, then the runner bundled as the function is.
console.error('precompiling schemas and bundling bench/sync-runner.ts …')
const precompile = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/precompile-schemas.ts'], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }
})
if (precompile.status !== 0) process.exit(precompile.status ?? 1)
const temp = await mkdtemp(join(tmpdir(), 'atlas-bench-sync-'))
await esbuild.build({
  ...lambdaBuildOptions,
  absWorkingDir: root,
  entryPoints: { index: 'bench/sync-runner.ts' },
  outdir: temp,
  alias: PRECOMPILED_SCHEMAS_ALIAS
})

/** The next message of that op from a child. */
function reply<T extends { op: string }>(child: ChildProcess, op: T['op']): Promise<T> {
  return new Promise(resolve => {
    const listener = (message: T): void => {
      if (message.op !== op) return
      child.off('message', listener)
      resolve(message)
    }
    child.on('message', listener)
  })
}
async function ask<T extends { op: string }>(child: ChildProcess, request: object, op: T['op']): Promise<T> {
  const answer = reply<T>(child, op)
  child.send(request)
  return await answer
}
let closing = false
function watch(child: ChildProcess, name: string): void {
  child.once('exit', code => {
    if (code === 0 && closing) return
    console.error(`the ${name} process exited with ${code}`)
    void rm(temp, { recursive: true, force: true }).then(() => process.exit(1))
  })
}

console.error(`making a vault of ${files} files …`)
const services = fork(
  fileURLToPath(new URL('./sync-services.ts', import.meta.url)),
  ['--files', String(files), '--big-mib', String(bigMib)],
  { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }
)
watch(services, 'services')
const ready = await reply<ServicesReady>(services, 'ready')

// Started as Lambda's runtime starts the function: its memory flags for the template's MemorySize, through the
// function's exec wrapper (which pins the young generation). A caller's NODE_OPTIONS reaches it too.
const [command, ...commandArgs] = await lambdaNodeCommand(node)
const nodeOptions = process.env.NODE_OPTIONS ?? ''

// Configured as the function is, from its environment; slices run in the process, as one invocation's would.
const passthrough = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('SYNC_')))
const runner = fork(join(temp, 'index.mjs'), [], {
  execPath: command,
  execArgv: commandArgs,
  cwd: temp,
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  env: {
    PATH: process.env.PATH,
    ...passthrough,
    NODE_OPTIONS: nodeOptions,
    NODE_ENV: 'production',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    AWS_REGION: 'us-east-1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_ENDPOINT_URL_DYNAMODB: ready.dynamodbEndpoint,
    AWS_ENDPOINT_URL_S3: ready.s3Endpoint,
    OBSIDIAN_API_URL: ready.obsidianUrl,
    OBSIDIAN_EMAIL: ready.account.email,
    OBSIDIAN_PASSWORD: ready.account.password,
    OBSIDIAN_VAULT_PASSWORDS: JSON.stringify({ [ready.vaultId]: ready.vaultPassword }),
    ...(values.live ? { BENCH_LIVE: '1' } : {})
  }
})
watch(runner, 'syncing')
const idle = (await reply<RunnerReply & { op: 'idle' }>(runner, 'idle')).peaks

type Ran = RunnerReply & { op: 'ran' }
async function syncRun(syncType: SyncType): Promise<{ seconds: number; vault: VaultProgress; peaks: Peaks }> {
  const ran = await ask<Ran>(runner, { op: 'run', syncType } satisfies RunnerRequest, 'ran')
  if (ran.status !== 'succeeded') {
    console.error(`the ${syncType} run ended ${ran.status}: ${JSON.stringify(ran.errors)}`)
    await fail()
  }
  return ran
}

/** Closes both processes; the runner reports the kernel's peak for its whole life as it goes. */
async function close(): Promise<number> {
  closing = true
  const closed = ask<RunnerReply & { op: 'closed' }>(runner, { op: 'close' } satisfies RunnerRequest, 'closed')
  const { maxRss } = await closed
  services.disconnect()
  await rm(temp, { recursive: true, force: true })
  return maxRss
}
async function fail(): Promise<never> {
  await close()
  process.exit(1)
}

const served = async (): Promise<{ uids: number[]; inits: number }> =>
  await ask<ServicesReply & { op: 'pulls' }>(services, { op: 'pulls' } satisfies ServicesRequest, 'pulls')
const pulls = async (): Promise<number[]> => (await served()).uids

const mib = (bytes: number): string => (bytes / MIB).toFixed(1)

console.error(`syncing ${files} files, ${mib(ready.bytes)} MiB (one of ${bigMib} MiB) …`)
const complete = await syncRun('complete')
if (complete.vault.pulled !== files) {
  console.error(`the complete run pulled ${complete.vault.pulled} files of ${files}`)
  await fail()
}

const completeInits = (await served()).inits
const changes = Math.max(1, Math.round(files / 100))
const before = (await pulls()).length
const { uids: changed } = await ask<ServicesReply & { op: 'changed' }>(
  services,
  { op: 'change', count: changes } satisfies ServicesRequest,
  'changed'
)
const incremental = await syncRun('incremental')
const after = await served()
const pulled = after.uids.slice(before)
const incrementalInits = after.inits - completeInits
const exactly = pulled.length === changed.length && [...pulled].sort().join() === [...changed].sort().join() // every uid once
console.error(`exporting the vault …`)
const exported = await ask<RunnerReply & { op: 'exported' }>(
  runner,
  { op: 'export', vaultId: ready.vaultId } satisfies RunnerRequest,
  'exported'
)
if (exported.status !== 'succeeded' || exported.files !== files) {
  console.error(
    `the export ended ${exported.status} with ${exported.files} files of ${files}: ${exported.errors.join('; ')}`
  )
  await fail()
}

console.error(`restoring the vault into a new one …`)
const restored = await ask<RunnerReply & { op: 'restored' }>(
  runner,
  { op: 'restore', vaultId: ready.vaultId } satisfies RunnerRequest,
  'restored'
)
const restoredWhole =
  restored.status === 'succeeded' && restored.totals.uploaded === files && restored.totals.files_count === files
const maxRss = await close()

const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()
const machine = `${cpus().length} × ${cpus()[0]?.model.trim()}, ${platform()} ${arch()}, Node ${version}`
const concurrency = process.env.SYNC_PULL_CONCURRENCY ?? '3 (the default)'
console.log(`/sync: ${files} files, ${mib(ready.bytes)} MiB (one of ${bigMib} MiB), pull concurrency ${concurrency}; bundled, started as \`${commandLine([command, ...commandArgs])}\`${nodeOptions ? ` with NODE_OPTIONS ${JSON.stringify(nodeOptions)}` : ''}; ${machine}
`)
console.log('| run | files pulled | seconds | files/s | MiB/s | peak RSS | peak heap | peak buffers |')
console.log('|---|---:|---:|---:|---:|---:|---:|---:|')
for (const [name, r] of [
  ['complete', complete],
  ['incremental (1 %)', incremental]
] as const)
  console.log(
    `| ${name} | ${r.vault.pulled} | ${r.seconds.toFixed(1)} | ${(r.vault.pulled / r.seconds).toFixed(0)} | ${(r.vault.bytes / MIB / r.seconds).toFixed(1)} | ${mib(r.peaks.rss)} MiB | ${mib(r.peaks.heapUsed)} MiB | ${mib(r.peaks.arrayBuffers)} MiB |`
  )
console.log(
  `| export (zip) | ${exported.files} | ${exported.seconds.toFixed(1)} | ${(exported.files / exported.seconds).toFixed(0)} | ${(exported.bytes / MIB / exported.seconds).toFixed(1)} | ${mib(exported.peaks.rss)} MiB | ${mib(exported.peaks.heapUsed)} MiB | ${mib(exported.peaks.arrayBuffers)} MiB |`,
  `| restore (uploads) | ${restored.totals.uploaded} | ${restored.seconds.toFixed(1)} | ${(restored.totals.uploaded / restored.seconds).toFixed(0)} | ${(ready.bytes / MIB / restored.seconds).toFixed(1)} | ${mib(restored.peaks.rss)} MiB | ${mib(restored.peaks.heapUsed)} MiB | ${mib(restored.peaks.arrayBuffers)} MiB |`
)
console.log('')
console.log(
  `idle app (the floor): RSS ${mib(idle.rss)} MiB, heap ${mib(idle.heapUsed)} MiB, buffers ${mib(idle.arrayBuffers)} MiB; kernel maxRSS over the whole syncing process: ${mib(maxRss)} MiB${values.live ? '; peaks after a GC at each sample (--live)' : ''}`
)
const peak = Math.max(complete.peaks.rss, incremental.peaks.rss, exported.peaks.rss, restored.peaks.rss, maxRss)
console.log(
  `peak RSS ${mib(peak)} MiB: ${peak <= RSS_GOAL_MIB * MIB ? 'under' : 'OVER'} the goal of ${RSS_GOAL_MIB} MiB`
)
console.log(
  `incremental: ${changed.length} files changed, ${pulled.length} pulled${exactly ? ', exactly those' : `, NOT exactly those (changed ${changed.join(',')}; pulled ${pulled.join(',')})`}; ${incremental.vault.skipped} skipped`
)
// One connection per vault per slice, as the official client keeps (each run here is one slice; a connection
// that broke would add one).
console.log(`connections (inits): ${completeInits} for the complete run, ${incrementalInits} for the incremental`)
console.log(
  `restore: ${restored.status}, ${restored.totals.uploaded} of ${restored.totals.files_count} files uploaded, ${restored.totals.skipped} skipped, ${restored.totals.errors} errors${restoredWhole ? '' : ` (NOT every file once: ${JSON.stringify(restored.errors)})`}`
)
process.exit(exactly && incremental.vault.pulled === changed.length && restoredWhole ? 0 : 1)
