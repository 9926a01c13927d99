/**
 * `gc()` on demand (src/core/gc-on-demand.ts): in a process started without
 * --expose-gc, as the function's exec wrapper starts it, `gc` is a function
 * that collects garbage; where node has its own, it is left alone.
 */
import { spawnSync } from 'node:child_process'
import t from 'tap'

const MODULE = new URL('../src/core/gc-on-demand.ts', import.meta.url).href

// A WeakRef's target is collected by a full gc() once the job that made it has ended.
const SCRIPT = `
const before = typeof globalThis.gc
const original = globalThis.gc
const { installGcOnDemand } = await import(${JSON.stringify(MODULE)})
installGcOnDemand()
let target = { payload: new Array(1000).fill('x') }
const ref = new WeakRef(target)
target = undefined
await new Promise(resolve => setImmediate(resolve))
const installed = globalThis.gc
globalThis.gc()
await new Promise(resolve => setImmediate(resolve))
console.log(JSON.stringify({ before, kept: installed === original, collected: ref.deref() === undefined, replaced: globalThis.gc !== installed, type: typeof globalThis.gc }))
`

function run(flags: string[]): Record<string, unknown> {
  const child = spawnSync(process.execPath, [...flags, '--import', 'tsx', '--input-type=module', '-e', SCRIPT], {
    encoding: 'utf8'
  })
  if (child.status !== 0) throw new Error(child.stderr)
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as Record<string, unknown>
}

t.test('without --expose-gc, gc() is there and collects', async t => {
  const got = run([])
  t.equal(got.before, 'undefined', 'node gave none')
  t.equal(got.collected, true, 'the unreachable object is gone')
  t.equal(got.replaced, true, "the stand-in gives way to V8's own")
  t.equal(got.type, 'function')
})

t.test("with --expose-gc, node's own gc stays", async t => {
  const got = run(['--expose-gc'])
  t.equal(got.before, 'function')
  t.equal(got.kept, true)
  t.equal(got.collected, true)
})

t.test('without anything to collect it, the object survives (so the check above can fail)', async t => {
  const child = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `let target = {}; const ref = new WeakRef(target); target = undefined
       await new Promise(resolve => setImmediate(resolve)); console.log(ref.deref() !== undefined)`
    ],
    { encoding: 'utf8' }
  )
  t.equal(child.stdout.trim(), 'true')
})
