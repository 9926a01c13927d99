/**
 * The syncing side of `npm run bench:sync`, as it runs deployed: bench/sync.ts
 * bundles this file with the Lambda's esbuild options and starts the bundle
 * with plain `node`, configured like the function by its environment. The app
 * validates and serializes with the schemas the build precompiles, as the
 * Lambda bundle does (Fastify's start-up compilers are left out of the bundle
 * the same way), so the idle floor is the function's, not a dev server's.
 * Driven over IPC:
 *
 *   ← { op: 'idle', peaks }                          the app built and idle for 500 ms: the floor
 *   → { op: 'run', syncType }
 *   ← { op: 'ran', status, errors, seconds, vault, peaks }
 *   → { op: 'export', vaultId }                      the vault as it is now, zipped into the sync bucket
 *   ← { op: 'exported', status, errors, seconds, files, bytes, peaks }
 *   → { op: 'restore', vaultId }                     the vault as it is now, into a new end-to-end vault
 *   ← { op: 'restored', status, errors, seconds, totals, peaks }
 *   → { op: 'close' }
 *   ← { op: 'closed', maxRss }                       the kernel's peak for the whole process, in bytes
 *
 * Memory is `process.memoryUsage()` sampled every 20 ms; with BENCH_LIVE=1
 * garbage is collected before each sample (gc() as the function has it: the
 * exec wrapper leaves --expose-gc out, src/core/gc-on-demand.ts puts gc() back).
 */
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config/config.ts'
import { installGcOnDemand } from '../src/core/gc-on-demand.ts'
import type { SyncType, VaultProgress } from '../src/repositories/sync-runs.ts'
import { precompiledCompilers } from '../src/http/schema-compilers.ts'
import { totalsOf } from '../src/sync/restore-service.ts'
import precompiled from '../src/precompiled/schemas.cjs'

export interface Peaks {
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
}

export type RunnerRequest =
  | { op: 'run'; syncType: SyncType }
  | { op: 'export'; vaultId: string }
  | { op: 'restore'; vaultId: string }
  | { op: 'close' }
export type RunnerReply =
  | { op: 'idle'; peaks: Peaks }
  | { op: 'exported'; status: string; errors: string[]; seconds: number; files: number; bytes: number; peaks: Peaks }
  | { op: 'ran'; status: string; errors: unknown; seconds: number; vault: VaultProgress; peaks: Peaks }
  | {
      op: 'restored'
      status: string
      errors: string[]
      seconds: number
      totals: ReturnType<typeof totalsOf>
      peaks: Peaks
    }
  | { op: 'closed'; maxRss: number }

const send = (message: RunnerReply): void => void process.send!(message)

/**
 * The Lambda reads a route's code from schema-code.txt when the route is first used; the benchmark uses no route,
 * so none is ever read, as in an idle function.
 */
function noRouteCode(): string {
  throw new Error('bench/sync-runner.ts serves no request, so it reads no route code')
}

const config = loadConfig(process.env)
const app = await buildApp(config, {
  logStream: process.stderr,
  // As on Lambda, /docs is served from a prebuilt document and its plugins load with the first /docs request.
  docsDocument: async () => ({}),
  schemaCompilers: precompiledCompilers(precompiled(noRouteCode))
})
await app.ready()

const zero = (): Peaks => ({ rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 })
let peaks = zero()
const sample = (): void => {
  const now = process.memoryUsage()
  for (const key of Object.keys(peaks) as Array<keyof Peaks>) peaks[key] = Math.max(peaks[key], now[key])
}
installGcOnDemand()
const gc = process.env.BENCH_LIVE === '1' ? globalThis.gc : undefined
const sampler = setInterval(() => {
  gc?.()
  sample()
}, 20)

async function syncRun(syncType: SyncType): Promise<RunnerReply> {
  peaks = zero()
  sample()
  const started = performance.now()
  const run = await app.sync.runs.start({ syncType, trigger: 'cli' })
  const ended = await app.sync.runs.waitFor(run.runId, 3_600_000)
  const seconds = (performance.now() - started) / 1000
  const vault = (await app.sync.runs.get(run.runId))!.progress[0]!
  return { op: 'ran', status: ended.status, errors: ended.result?.errors, seconds, vault, peaks }
}

async function exportRun(vaultId: string): Promise<RunnerReply> {
  peaks = zero()
  sample()
  const started = performance.now()
  const run = await app.sync.exports.start({ vaultId })
  const ended = await app.sync.exports.waitFor(run.runId, 3_600_000)
  const seconds = (performance.now() - started) / 1000
  const { status, errors, filesCount: files, bytes } = ended
  return { op: 'exported', status, errors, seconds, files, bytes, peaks }
}

/** A restore of the backed-up vault, as it is now, into a new vault of the account: uploads, through the stand-in. */
async function restoreRun(vaultId: string): Promise<RunnerReply> {
  peaks = zero()
  sample()
  const started = performance.now()
  const restore = await app.sync.restores.start({
    vaultId,
    targetName: 'bench restore',
    encryption: 'end-to-end',
    targetPassword: 'bench restore password'
  })
  const ended = await app.sync.restores.waitFor(restore.runId, 3_600_000)
  const seconds = (performance.now() - started) / 1000
  return { op: 'restored', status: ended.status, errors: ended.errors, seconds, totals: totalsOf(ended), peaks }
}

process.on('message', (message: RunnerRequest) => {
  if (message.op === 'export') {
    void exportRun(message.vaultId).then(send)
    return
  }
  if (message.op === 'run') {
    void syncRun(message.syncType).then(send)
    return
  }
  if (message.op === 'restore') {
    void restoreRun(message.vaultId).then(send)
    return
  }
  clearInterval(sampler)
  void app.close().then(() => {
    send({ op: 'closed', maxRss: process.resourceUsage().maxRSS * 1024 })
    process.disconnect()
  })
})

await new Promise(resolve => setTimeout(resolve, 500))
send({ op: 'idle', peaks })
