/**
 * `npm run demo [-- --obsidian-port 8200]`: /sync to try in one command. Starts
 * the stand-in for Obsidian Sync (one account, a small sample vault) and the
 * dev server (`src/entries/server.ts`, its embedded stack under DATA_DIR) with the
 * settings that point it there, waits until the API answers, then prints the
 * dev key and the first requests to send. Ctrl-C stops both.
 */
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { DEV_KEY_FILE } from '../src/auth/dev-key.ts'
import { loadConfig } from '../src/config/config.ts'
import { portOrExit, sh, startDemoServiceOrExit } from './lib/demo-service.ts'

/** How long the dev server may take to answer /health the first time (it starts its embedded stack). */
const START_TIMEOUT_MS = 60_000

const { values } = parseArgs({
  options: { 'obsidian-port': { type: 'string', default: process.env.OBSIDIAN_DEMO_PORT ?? '8200' } }
})
const port = portOrExit(values['obsidian-port'], '--obsidian-port (or OBSIDIAN_DEMO_PORT)')
const { service, settings, summary, vaultId } = await startDemoServiceOrExit(port)

const env = { ...process.env, ...settings }
const dev = loadConfig(env)
const api = `http://${dev.host.includes(':') ? `[${dev.host}]` : dev.host}:${dev.port}`
const server = spawn(
  process.execPath,
  ['--import', 'tsx', fileURLToPath(new URL('../src/entries/server.ts', import.meta.url))],
  {
    env,
    stdio: ['ignore', 'inherit', 'inherit']
  }
)

let stopping = false
async function stop(code: number): Promise<never> {
  stopping = true
  if (server.exitCode === null) {
    server.kill('SIGTERM')
    await new Promise(resolve => server.once('exit', resolve))
  }
  await service.close()
  process.exit(code)
}
process.once('SIGINT', () => void stop(0))
process.once('SIGTERM', () => void stop(0))
server.once('exit', code => {
  if (stopping) return
  console.error(`The dev server exited (${code}); the stand-in stops too.`)
  void stop(code === 0 ? 0 : 1)
})

/** Waits for the API, then prints the key and the first requests; on any failure both processes stop. */
async function announce(): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  while (
    !(await fetch(`${api}/health`).then(
      res => res.ok,
      () => false
    ))
  ) {
    if (Date.now() > deadline)
      throw new Error(`The dev server did not answer ${api}/health within ${START_TIMEOUT_MS / 1000} s`)
    await sleep(250)
  }
  // The dev key comes with the embedded stack; against endpoints set by hand the server makes none.
  const key = dev.embeddedStack
    ? (await readFile(join(dev.dataDir, DEV_KEY_FILE), 'utf8')).trim()
    : '<a key of API_KEYS>'
  console.log(`
${summary}
API ${api} with the settings above wired in; the dev key (every scope) is below.

  KEY=${sh(key)}
  curl -s -X POST -H "x-api-key: $KEY" -H 'content-type: application/json' -d '{"sync_type":"complete"}' '${api}/sync?wait=20'
  curl -s -H "x-api-key: $KEY" ${api}/sync/vaults/${vaultId}/files

Ctrl-C stops the API and the stand-in.`)
}

try {
  await announce()
} catch (err) {
  console.error((err as Error).message)
  await stop(1)
}
