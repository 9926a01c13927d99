/**
 * `npm run sync -- [--vault ID] [--complete]`: one sync run from the command
 * line, through the engine POST /sync uses, on the configured stack: with no
 * AWS endpoint set, the embedded one under DATA_DIR, as `npm run dev` starts
 * it (so not while `npm run dev` holds it). Progress goes to stderr while the
 * run works, its SyncResponse to stdout as JSON; exit code 0 when it
 * succeeded, 1 when it did not, 2 for a wrong command line.
 */
import { parseArgs } from 'node:util'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildApp } from '../app.ts'
import { loadConfig, type Config } from '../config/config.ts'
import type { EmbeddedStack } from '../local/embedded-stack.ts'
import { FINAL_STATUSES, type Run, type VaultProgress } from '../repositories/sync-runs.ts'
import { poll } from '../core/poll.ts'
import { inProcessLauncher } from '../sync/launcher.ts'
import { prepareStorage } from './boot.ts'
import type { SliceRunners } from '../sync/run-kinds.ts'

const USAGE = 'usage: npm run sync -- [--vault ID] [--complete]'
const POLL_MS = 500

let values: { vault?: string; complete: boolean; help: boolean }
try {
  ;({ values } = parseArgs({
    options: {
      vault: { type: 'string' },
      complete: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false }
    }
  }))
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`)
  process.exit(2)
}
if (values.help) {
  console.log(USAGE)
  console.log('  --vault ID   only this vault (default: every vault of the account, shared ones included)')
  console.log('  --complete   a complete sync (default: incremental, from the saved version)')
  process.exit(0)
}

// Warnings and errors only, on stderr: stdout is the result's.
let config: Config = loadConfig({ LOG_LEVEL: 'warn', ...process.env }, 'server')
let stack: EmbeddedStack | undefined
let app: FastifyInstance | undefined
let sliceFailure: Error | undefined

async function shutdown(code: number): Promise<never> {
  await app?.close()
  await stack?.close()
  process.exit(code)
}

try {
  ;({ config, stack } = await prepareStorage(config))
  // The background launcher of `npm run dev`, noting a slice that failed outright, which would leave the run unended.
  const timeBudgetMs = config.sync.timeBudgetMs
  const launcher = (slices: SliceRunners, log: Logger) =>
    inProcessLauncher(
      async (next, deadline) => {
        try {
          await slices.run(next, deadline)
        } catch (err) {
          sliceFailure = err as Error
          throw err
        }
      },
      timeBudgetMs,
      log
    )
  app = await buildApp(config, { logStream: process.stderr, sync: { launcher } })
} catch (err) {
  // The embedded DynamoDB's files are one process's at a time.
  const hint = config.embeddedStack
    ? ` (is npm run dev or npm run stack using ${config.dataDir}? Stop it, or give this run another DATA_DIR)`
    : ''
  console.error(`Could not start: ${(err as Error).message}${hint}`)
  await shutdown(1)
}
const runs = app!.sync.runs

let run: Run
try {
  run = await runs.start({
    vaultId: values.vault,
    syncType: values.complete ? 'complete' : 'incremental',
    trigger: 'cli'
  })
} catch (err) {
  console.error(`The run was not started: ${(err as Error).message}`)
  await shutdown(1)
}
console.error(
  `run ${run!.runId}: ${run!.syncType} sync of ${run!.vaultId ?? 'every vault'} into s3://${run!.destBucket}/${run!.destPrefix}/`
)

process.once('SIGINT', () => {
  console.error(
    `Stopping: run ${run.runId} is left unfinished; another run can take its vaults over once their lease expires (SYNC_LEASE_MS).`
  )
  void shutdown(130)
})

const started = Date.now()
const shown = new Map<string, string>()
// The exit code once the run ended or a slice failed outright; no deadline: Ctrl-C stops the wait.
const exitCode = await poll(
  async () => {
    const found = await runs.get(run!.runId)
    if (found === undefined) throw new Error(`run ${run!.runId} disappeared`)
    for (const vault of found.progress) {
      const line = progressLine(vault)
      if (shown.get(vault.vaultId) === line) continue
      shown.set(vault.vaultId, line)
      console.error(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s  ${line}`)
    }
    if (FINAL_STATUSES.includes(found.run.status)) {
      console.error(`run ${found.run.runId} ${found.run.status} after ${found.run.hops} slice(s)`)
      console.log(JSON.stringify(found.run.result, null, 2))
      return found.run.status === 'succeeded' ? 0 : 1
    }
    if (sliceFailure !== undefined) {
      console.error(`run ${found.run.runId} stopped: ${sliceFailure.message}`)
      return 1
    }
    return undefined
  },
  { intervalMs: POLL_MS }
)
await shutdown(exitCode ?? 1)

function progressLine(p: VaultProgress): string {
  const name = p.name === undefined ? p.vaultId : `${p.vaultId} (${p.name})`
  const errors = (p.errors ?? 0) > 0 ? `, ${p.errors} errors` : ''
  return `${name}: ${p.pulled ?? 0} pulled, ${p.skipped ?? 0} skipped, ${p.deleted ?? 0} deleted, ${mib(p.bytes ?? 0)}${errors}${p.outcome === undefined ? '' : ` [${p.outcome}]`}`
}

function mib(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}
