/**
 * The function's exec wrapper (scripts/lib/node-flags.sh): given the command
 * line Lambda's runtime starts node with, it runs that command with V8's young
 * generation pinned at 2 x 4 MiB, whatever the runtime asked for, without
 * --expose-gc, and every other argument as it was.
 */
import { spawnSync } from 'node:child_process'
import t from 'tap'
import { NODE_FLAGS_WRAPPER } from '../scripts/lib/bench-node.mjs'

// Short-lived objects enough to grow new space to its limit; prints its size (MiB) as most samples saw it, the
// largest sample, and node's flags. Under load, V8 13 (Node 24) was seen holding a page or two over the limit for a
// moment, so the typical size is what the pin is judged by, the largest only loosely.
const SCRIPT = `const v8 = require('v8'); let keep = [], sizes = []
for (let i = 0; i < 2e6; i++) { keep.push({ i, a: [i] }); if (keep.length > 2e5) keep = []
  if (i % 1e4 === 0) sizes.push(v8.getHeapSpaceStatistics().find(s => s.space_name === 'new_space').space_size / 2 ** 20) }
sizes.sort((a, b) => a - b)
console.log(JSON.stringify({ newSpaceMiB: sizes[sizes.length >> 1], maxNewSpaceMiB: sizes.at(-1), execArgv: process.execArgv.slice(0, -2), argv: process.argv.slice(1), gc: typeof gc }))`

interface Started {
  status: number | null
  stderr: string
  newSpaceMiB?: number
  maxNewSpaceMiB?: number
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

function pinned(t: { ok: (value: unknown, message: string) => void }, got: Started): void {
  t.ok(got.newSpaceMiB! <= 8, `new space stays within 2 x 4 MiB (${String(got.newSpaceMiB)} MiB in most samples)`)
  t.ok(got.maxNewSpaceMiB! <= 16, `and never near the runtime's (largest sample ${String(got.maxNewSpaceMiB)} MiB)`)
}

t.test("the runtime's young generation (51 MiB semi-spaces at 1024 MB) is replaced by 2 x 4 MiB", async t => {
  const got = run(['--expose-gc', '--max-semi-space-size=51', '--max-old-space-size=922'])
  t.equal(got.status, 0, got.stderr)
  t.equal(got.stderr, '', 'no warning')
  t.same(got.execArgv, ['--max-semi-space-size=4', '--max-old-space-size=922'], "the runtime's other flags still apply")
  t.equal(got.gc, 'undefined', 'no --expose-gc: the bundle makes gc() on demand (test/gc-on-demand.test.ts)')
  t.same(got.argv, ['an argument'], "the script's own arguments pass through")
  pinned(t, got)
})

t.test('a command line without the flag gets it too', async t => {
  const got = run([])
  t.equal(got.status, 0, got.stderr)
  t.same(got.execArgv, ['--max-semi-space-size=4'])
  pinned(t, got)
})

t.test('without it, the same garbage grows new space far past 8 MiB (so the checks above can fail)', async t => {
  const child = spawnSync(process.execPath, ['--max-semi-space-size=51', '-e', SCRIPT], { encoding: 'utf8' })
  t.equal(child.status, 0, child.stderr)
  t.ok((JSON.parse(child.stdout) as Started).newSpaceMiB! > 16)
})
