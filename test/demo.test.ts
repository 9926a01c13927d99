import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { freePort, printedUntil } from '../scripts/lib/processes.mjs'

const DEMO = fileURLToPath(new URL('../scripts/demo.ts', import.meta.url))

t.test('npm run demo: one command serves /sync against the stand-in, and its printed key and curl work', async t => {
  const [apiPort, obsidianPort] = [await freePort(), await freePort()]
  const dataDir = await mkdtemp(join(tmpdir(), 'atlas-demo-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const env: NodeJS.ProcessEnv = { ...process.env, HOST: '127.0.0.1', PORT: String(apiPort), DATA_DIR: dataDir }
  // As on a fresh machine: no account and no AWS endpoint (the emulator pass sets some), so the embedded stack.
  for (const name of Object.keys(env))
    if (name.startsWith('OBSIDIAN_') || name.startsWith('AWS_ENDPOINT_URL')) delete env[name]
  const demo = spawn(process.execPath, ['--import', 'tsx', DEMO, '--obsidian-port', String(obsidianPort)], {
    env,
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const exited = new Promise(resolve => demo.once('exit', resolve))
  t.teardown(async () => {
    if (demo.exitCode === null) demo.kill('SIGTERM')
    await exited
  })
  const printed = await printedUntil(demo, 'Ctrl-C stops the API')
  const key = /^ {2}KEY=(\S+)$/m.exec(printed)?.[1]
  t.ok(key, 'the dev key is printed')
  const api = `http://127.0.0.1:${apiPort}`
  t.match(printed, `'${api}/sync?wait=20'`)

  const res = await fetch(`${api}/sync?wait=20`, {
    method: 'POST',
    headers: { 'x-api-key': key!, 'content-type': 'application/json' },
    body: JSON.stringify({ sync_type: 'complete' })
  })
  t.equal(res.status, 200)
  t.match(await res.json(), { success: true, vaults_synced: ['demo-vault'], files_count: 5 })

  demo.kill('SIGTERM')
  t.equal(await exited, 0, 'Ctrl-C (SIGTERM) stops both and exits 0')
  await t.rejects(fetch(`http://127.0.0.1:${obsidianPort}/vault/list`, { method: 'POST' }), 'the stand-in is gone')
})
