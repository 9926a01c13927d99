/**
 * The function's exec wrapper (scripts/lib/node-flags.sh): given the command
 * line Lambda's runtime starts node with, it runs that command with V8's young
 * generation pinned at 2 x 4 MiB, whatever the runtime asked for, without
 * --expose-gc, and every other argument as it was.
 */
import { spawnSync } from 'node:child_process'
import t from 'tap'
import { NODE_FLAGS_WRAPPER } from '../scripts/lib/bench-node.mjs'

// Short-lived objects enough to grow new space to its limit; prints the largest it became (MiB) and node's flags.
const SCRIPT = `const v8 = require('v8'); let keep = [], max = 0
for (let i = 0; i < 2e6; i++) { keep.push({ i, a: [i] }); if (keep.length > 2e5) keep = []
  if (i % 1e4 === 0) max = Math.max(max, v8.getHeapSpaceStatistics().find(s => s.space_name === 'new_space').space_size) }
console.log(JSON.stringify({ newSpaceMiB: max / 2 ** 20, execArgv: process.execArgv.slice(0, -2), argv: process.argv.slice(1), gc: typeof gc }))`

interface Started {
  status: number | null
  stderr: string
  newSpaceMiB?: number
  execArgv?: string[]
  argv?: string[]
  gc?: string
}

function run(runtimeFlags: string[]): Started {
  const child = spawnSync(NODE_FLAGS_WRAPPER, [process.execPath, ...runtimeFlags, '-e', SCRIPT, 'an argument'], {
    encoding: 'utf8'
  })
  return {
    status: child.status,
    stderr: child.stderr,
    ...(JSON.parse(child.stdout || '{}') as Record<string, unknown>)
  }
}

t.test("the runtime's young generation (51 MiB semi-spaces at 1024 MB) is replaced by 2 x 4 MiB", async t => {
  const got = run(['--expose-gc', '--max-semi-space-size=51', '--max-old-space-size=922'])
  t.equal(got.status, 0, got.stderr)
  t.equal(got.stderr, '', 'no warning')
  t.same(got.execArgv, ['--max-semi-space-size=4', '--max-old-space-size=922'], "the runtime's other flags still apply")
  t.equal(got.gc, 'undefined', 'no --expose-gc: the bundle makes gc() on demand (test/gc-on-demand.test.ts)')
  t.same(got.argv, ['an argument'], "the script's own arguments pass through")
  t.ok(got.newSpaceMiB! <= 8, `new space stays within 2 x 4 MiB (${String(got.newSpaceMiB)} MiB)`)
})

t.test('a command line without the flag gets it too', async t => {
  const got = run([])
  t.equal(got.status, 0, got.stderr)
  t.same(got.execArgv, ['--max-semi-space-size=4'])
  t.ok(got.newSpaceMiB! <= 8, `new space stays within 2 x 4 MiB (${String(got.newSpaceMiB)} MiB)`)
})

t.test('without it, the same garbage grows new space past 8 MiB (so the check above can fail)', async t => {
  const child = spawnSync(process.execPath, ['--max-semi-space-size=51', '-e', SCRIPT], { encoding: 'utf8' })
  t.equal(child.status, 0, child.stderr)
  t.ok(JSON.parse(child.stdout).newSpaceMiB > 8)
})
