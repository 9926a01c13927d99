/**
 * `npm run bench [-- --seconds 5] [-- --json]`: /projects throughput on the
 * embedded stack (dynalite in memory), through the whole app (routing,
 * validation, auth, serialization) with in-process requests, so the figures
 * are the app's and the engine's, not a network's. A benchmark, not a test:
 * it reports, it does not judge.
 *
 * For 1, 4 and 16 concurrent writers on one fresh project: appends per second
 * (one change per request) for --seconds; then as many concurrent readers
 * paging through that project's feed (limit=100) for --seconds: read requests
 * and changes per second.
 */
import { arch, cpus, platform } from 'node:os'
import { parseArgs } from 'node:util'
import { buildApp } from '../src/app.ts'
import { generateApiKey } from '../src/auth/api-keys.ts'
import { benchStack } from './stack.ts'

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, json: { type: 'boolean', default: false } }
})
const seconds = Number(values.seconds)

const key = generateApiKey('bench', ['projects:*:*'])
const stack = await benchStack({ API_KEYS: JSON.stringify([key.entry]) })
const { config } = stack
const app = await buildApp(config)
await app.ready()
const headers = { 'content-type': 'application/json', 'x-api-key': key.key }

/** Runs `workers` loops of `step` for the duration; returns how many steps completed and what they counted. */
async function run(
  workers: number,
  step: (worker: number) => Promise<number>
): Promise<{ steps: number; counted: number; elapsed: number }> {
  const deadline = performance.now() + seconds * 1000
  const started = performance.now()
  let steps = 0
  let counted = 0
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      while (performance.now() < deadline) {
        const count = await step(worker)
        counted += count
        steps++
      }
    })
  )
  return { steps, counted, elapsed: (performance.now() - started) / 1000 }
}

const rows: Array<Record<string, number>> = []
for (const workers of [1, 4, 16]) {
  const projectId = `bench-${workers}`
  let n = 0
  const writes = await run(workers, async worker => {
    const res = await app.inject({
      method: 'POST',
      url: `/projects/${projectId}/changes`,
      headers,
      payload: {
        entityType: 'document',
        entityId: `w${worker}-${n++ % 50}`,
        operation: 'update',
        data: { title: 'a title', body: 'x'.repeat(200) }
      }
    })
    if (res.statusCode !== 201) throw new Error(`append: ${res.statusCode} ${res.body}`)
    return 1
  })
  const cursors = Array.from({ length: workers }, () => 0)
  const reads = await run(workers, async worker => {
    const res = await app.inject({
      method: 'GET',
      url: `/projects/${projectId}/changes?since=${cursors[worker]}&limit=100`,
      headers
    })
    if (res.statusCode !== 200) throw new Error(`read: ${res.statusCode} ${res.body}`)
    const page = res.json() as { changes: unknown[]; lastSeq: number; hasMore: boolean }
    cursors[worker] = page.hasMore ? page.lastSeq : 0
    return page.changes.length
  })
  rows.push({
    workers,
    appendsPerSecond: Math.round(writes.steps / writes.elapsed),
    readsPerSecond: Math.round(reads.steps / reads.elapsed),
    changesReadPerSecond: Math.round(reads.counted / reads.elapsed)
  })
}

await app.close()
await stack.close()

const machine = `${cpus().length} × ${cpus()[0]?.model.trim()}, ${platform()} ${arch()}, Node ${process.versions.node}`
if (values.json) {
  console.log(JSON.stringify({ machine, seconds, rows }, null, 2))
} else {
  console.log(`/projects on the embedded stack, ${seconds} s per figure; ${machine}\n`)
  console.log('| concurrent writers (and readers) | appends/s | reads/s (limit=100) | changes read/s |')
  console.log('|---:|---:|---:|---:|')
  for (const r of rows)
    console.log(`| ${r.workers} | ${r.appendsPerSecond} | ${r.readsPerSecond} | ${r.changesReadPerSecond} |`)
}
