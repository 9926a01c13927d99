/**
 * `npm run obsidian:demo [-- --port 8200]`: the test suite's stand-in for
 * Obsidian Sync on a fixed port, with one account and a small sample vault,
 * and the settings that point `npm run dev` (or `npm run sync`) at it, so
 * /sync can be tried end to end without an account. Runs until Ctrl-C.
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config/config.ts'
import { DEV_KEY_FILE } from '../src/auth/dev-key.ts'
import { portOrExit, sh, startDemoServiceOrExit } from './lib/demo-service.ts'

const { values } = parseArgs({
  options: { port: { type: 'string', default: process.env.OBSIDIAN_DEMO_PORT ?? '8200' } }
})
const port = portOrExit(values.port, '--port (or OBSIDIAN_DEMO_PORT)')
const { service, settings, summary, vaultId } = await startDemoServiceOrExit(port)

// Where `npm run dev` will listen and keep its dev key, from the same settings it reads.
const dev = loadConfig(process.env)
const api = `http://${dev.host.includes(':') ? `[${dev.host}]` : dev.host}:${dev.port}`
const keyFile = join(dev.dataDir, DEV_KEY_FILE)
console.log(summary)
console.log('')
console.log('In another terminal, from this folder:')
for (const [name, value] of Object.entries(settings)) console.log(`  export ${name}=${sh(value)}`)
console.log('  npm run dev')
console.log('')
console.log('Then, in a third (the dev key is made by the first `npm run dev`):')
console.log(`  KEY=$(cat ${sh(keyFile)})`)
console.log(
  `  curl -s -X POST -H "x-api-key: $KEY" -H 'content-type: application/json' -d '{"sync_type":"complete"}' '${api}/sync?wait=20'`
)
console.log(`  curl -s -H "x-api-key: $KEY" ${api}/sync/runs/<run_id from the answer>`)
console.log(`  curl -s -H "x-api-key: $KEY" ${api}/sync/vaults/${vaultId}/files`)
console.log('Or, with `npm run dev` stopped and the same settings exported: npm run sync -- --complete')
console.log('')
console.log('Ctrl-C stops the stand-in.')

const stop = async (): Promise<void> => {
  await service.close()
  process.exit(0)
}
process.once('SIGINT', () => void stop())
process.once('SIGTERM', () => void stop())
