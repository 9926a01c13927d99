/**
 * `npm run bench:sync [-- --files 5000 --big-mib 100]`: one vault of --files
 * files (one of them --big-mib MiB, the rest 1 to 40 KiB: about 200 MiB in
 * all by default) through the real engine (buildApp, app.syncEngine), from the
 * stand-in for Obsidian Sync into the embedded stack. Both of those run in a
 * child process (bench/sync-services.ts), so the memory measured is the
 * syncing process's alone, as on Lambda.
 *
 * A complete run: files/s, MiB/s and the peak RSS (sampled every 20 ms, and
 * the kernel's maxRSS), beside the idle app's RSS as the floor. Then 1 % of
 * the files get a new version and an incremental run must pull exactly those
 * (the child counts every pull it serves): exit 1 when it does not, or when a
 * run does not succeed. The memory goal (256 MiB) is reported, not enforced.
 *
 * SYNC_* settings (SYNC_PULL_CONCURRENCY …) are passed through to the app.
 * `NODE_OPTIONS=--expose-gc npm run bench:sync -- --live` collects garbage
 * before every sample: the peaks are then what is live (and the run slower).
 */
import { fork } from 'node:child_process'
import { arch, cpus, platform } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import type { SyncType, VaultProgress } from '../src/repositories/sync-runs.ts'
import type { ServicesReady, ServicesReply, ServicesRequest } from './sync-services.ts'

const MIB = 1024 * 1024
const RSS_GOAL_MIB = 256

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '5000' },
    'big-mib': { type: 'string', default: '100' },
    live: { type: 'boolean', default: false }
  }
})
const files = Number(values.files)
const bigMib = Number(values['big-mib'])
if (!Number.isInteger(files) || files < 2 || !Number.isFinite(bigMib) || bigMib < 0) {
  console.error('--files must be an integer of at least 2 and --big-mib a number of MiB')
  process.exit(2)
}

const child = fork(
  fileURLToPath(new URL('./sync-services.ts', import.meta.url)),
  ['--files', String(files), '--big-mib', String(bigMib)],
  { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }
)
child.once('exit', code => {
  if (code !== 0 && !closing) {
    console.error(`the services process exited with ${code}`)
    process.exit(1)
  }
})
let closing = false

function reply<T extends { op: string }>(op: T['op']): Promise<T> {
  return new Promise(resolve => {
    const listener = (message: T): void => {
      if (message.op !== op) return
      child.off('message', listener)
      resolve(message)
    }
    child.on('message', listener)
  })
}
async function ask<T extends ServicesReply>(request: ServicesRequest & { op: string }, op: T['op']): Promise<T> {
  const answer = reply<T>(op)
  child.send(request)
  return await answer
}

console.error(`making a vault of ${files} files …`)
const services = await reply<ServicesReady>('ready')
const passthrough = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('SYNC_')))
const config = loadConfig({
  ...passthrough,
  NODE_ENV: 'test',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  AWS_ENDPOINT_URL_DYNAMODB: services.dynamodbEndpoint,
  AWS_ENDPOINT_URL_S3: services.s3Endpoint,
  OBSIDIAN_API_URL: services.obsidianUrl,
  OBSIDIAN_EMAIL: services.account.email,
  OBSIDIAN_PASSWORD: services.account.password,
  OBSIDIAN_VAULT_PASSWORDS: JSON.stringify({ [services.vaultId]: services.vaultPassword })
})
const app = await buildApp(config, { logStream: process.stderr })
await app.ready()

interface Peaks {
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
}
const zero = (): Peaks => ({ rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 })
let peaks = zero()
const sample = (): void => {
  const now = process.memoryUsage()
  for (const key of Object.keys(peaks) as Array<keyof Peaks>) peaks[key] = Math.max(peaks[key], now[key])
}
// --live collects garbage before each sample, so the peaks are what is live, not what awaits collection.
const gc = (globalThis as { gc?: () => void }).gc
if (values.live && gc === undefined) {
  console.error('--live needs the gc function: NODE_OPTIONS=--expose-gc npm run bench:sync -- --live')
  process.exit(2)
}
const sampler = setInterval(() => {
  if (values.live) gc!()
  sample()
}, 20)

// The floor: the app built and idle, before any sync.
await new Promise(resolve => setTimeout(resolve, 500))
const idle = peaks

async function syncRun(syncType: SyncType): Promise<{ seconds: number; vault: VaultProgress; peaks: Peaks }> {
  peaks = zero()
  sample()
  const started = performance.now()
  const run = await app.syncEngine.start({ syncType, trigger: 'cli' })
  const ended = await app.syncEngine.waitFor(run.runId, 3_600_000)
  const seconds = (performance.now() - started) / 1000
  const vault = (await app.syncEngine.get(run.runId))!.progress[0]!
  if (ended.status !== 'succeeded') {
    console.error(`the ${syncType} run ended ${ended.status}: ${JSON.stringify(ended.result?.errors)}`)
    await close(1)
  }
  return { seconds, vault, peaks }
}

async function close(code: number): Promise<never> {
  closing = true
  clearInterval(sampler)
  await app.close()
  child.disconnect()
  process.exit(code)
}

const mib = (bytes: number): string => (bytes / MIB).toFixed(1)

console.error(`syncing ${files} files, ${mib(services.bytes)} MiB (one of ${bigMib} MiB) …`)
const complete = await syncRun('complete')
if (complete.vault.pulled !== files) {
  console.error(`the complete run pulled ${complete.vault.pulled} files of ${files}`)
  await close(1)
}

const changes = Math.max(1, Math.round(files / 100))
const before = (await ask<{ op: 'pulls'; uids: number[] }>({ op: 'pulls' }, 'pulls')).uids.length
const { uids: changed } = await ask<{ op: 'changed'; uids: number[] }>({ op: 'change', count: changes }, 'changed')
const incremental = await syncRun('incremental')
const pulled = (await ask<{ op: 'pulls'; uids: number[] }>({ op: 'pulls' }, 'pulls')).uids.slice(before)
const exactly = pulled.length === changed.length && [...pulled].sort().join() === [...changed].sort().join() // every uid once

const machine = `${cpus().length} × ${cpus()[0]?.model.trim()}, ${platform()} ${arch()}, Node ${process.versions.node}`
const maxRss = process.resourceUsage().maxRSS * 1024
console.log(`/sync: ${files} files, ${mib(services.bytes)} MiB (one of ${bigMib} MiB), pull concurrency ${config.sync.pullConcurrency}; ${machine}
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
console.log('')
console.log(
  `idle app (the floor): RSS ${mib(idle.rss)} MiB, heap ${mib(idle.heapUsed)} MiB, buffers ${mib(idle.arrayBuffers)} MiB; kernel maxRSS over the whole process: ${mib(maxRss)} MiB${values.live ? '; peaks after a GC at each sample (--live)' : ''}`
)
console.log(
  `peak RSS ${mib(Math.max(complete.peaks.rss, maxRss))} MiB: ${Math.max(complete.peaks.rss, maxRss) <= RSS_GOAL_MIB * MIB ? 'under' : 'OVER'} the goal of ${RSS_GOAL_MIB} MiB`
)
console.log(
  `incremental: ${changed.length} files changed, ${pulled.length} pulled${exactly ? ', exactly those' : `, NOT exactly those (changed ${changed.join(',')}; pulled ${pulled.join(',')})`}; ${incremental.vault.skipped} skipped`
)
await close(exactly && incremental.vault.pulled === changed.length ? 0 : 1)
