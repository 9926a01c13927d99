/**
 * `npm run bench [-- --seconds 5] [-- --json] [-- --latency 5] [-- --burst 10]`: /projects throughput on the
 * embedded stack (dynalite in memory), through the whole app (routing,
 * validation, auth, serialization) with in-process requests, so the figures
 * are the app's and the engine's, not a network's. A benchmark, not a test:
 * it reports, it does not judge.
 *
 * First the DynamoDB calls each kind of request makes, counted by a client
 * middleware, one request at a time on a fresh project in steady state: on the
 * request path, and what the app does in the background afterwards (the
 * projection), per change. Then, for 1, 4 and 16 concurrent writers on one
 * fresh project: appends per second (one change per request) for --seconds;
 * then as many concurrent readers paging through that project's feed
 * (limit=100) for --seconds: read requests and changes per second.
 * Last the projection against the appends with --latency ms added to every
 * DynamoDB call (bench/projection.ts): a backlog's projection rate, then 32
 * writers appending batches of 10 for --burst seconds and how long the
 * projection takes to catch up after it.
 */
import { arch, cpus, platform } from 'node:os'
import { parseArgs } from 'node:util'
import { buildApp } from '../src/app.ts'
import { generateApiKey } from '../src/auth/api-keys.ts'
import { countCalls, describeCalls, totalOf, type Calls } from '../scripts/lib/counting-dynamodb.ts'
import { addLatency } from './latency.ts'
import { measureProjection } from './projection.ts'
import { benchStack } from './stack.ts'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
    latency: { type: 'string', default: '5' },
    burst: { type: 'string', default: '10' }
  }
})
const seconds = Number(values.seconds)
const latencyMs = Number(values.latency)

const key = generateApiKey('bench', ['projects:*:*'])
const stack = await benchStack({ API_KEYS: JSON.stringify([key.entry]) })
const { config } = stack
const app = await buildApp(config)
await app.ready()
const headers = { 'content-type': 'application/json', 'x-api-key': key.key }
const counter = countCalls(app.aws.dynamodb)
const latency = addLatency(app.aws.dynamodb, latencyMs)

let changeIds = 0
const doc = (entityId: string, withId: boolean) => ({
  entityType: 'document',
  entityId,
  operation: 'update',
  data: { title: 'a title', body: 'x'.repeat(200) },
  ...(withId ? { changeId: `c-${changeIds++}` } : {})
})

async function send(method: 'GET' | 'POST', url: string, payload?: object): Promise<unknown> {
  const res = await app.inject({ method, url, headers, payload })
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`)
  return res.json()
}

/** Waits until the app's background work has stopped calling DynamoDB. */
async function settled(): Promise<void> {
  let seen = -1
  while (totalOf(counter.background) !== seen) {
    seen = totalOf(counter.background)
    await new Promise(resolve => setTimeout(resolve, 300))
  }
}

interface CountRow {
  request: string
  requestPath: string
  requestPathTotal: number
  backgroundPerChange?: number
  /** Request path and background together, per change appended: what the bill counts. */
  totalPerChange?: number
}

/** Runs `request` `runs` times in steady state (after `warmUp`), one at a time, and averages the calls. */
async function count(
  name: string,
  runs: number,
  request: (run: number) => Promise<unknown>,
  changesPerRun = 0,
  warmUp?: () => Promise<unknown>
): Promise<CountRow> {
  if (warmUp !== undefined) await warmUp()
  await settled()
  const before = totalOf(counter.background)
  const calls: Calls = new Map()
  for (let run = 0; run < runs; run++) {
    const counted = await counter.during(() => request(run))
    for (const [op, n] of counted.calls) calls.set(op, (calls.get(op) ?? 0) + n)
  }
  await settled()
  const background = totalOf(counter.background) - before
  return {
    request: name,
    requestPath: describeCalls(calls, runs),
    requestPathTotal: Math.round((totalOf(calls) / runs) * 10) / 10,
    ...(changesPerRun > 0
      ? {
          backgroundPerChange: Math.round((background / (runs * changesPerRun)) * 10) / 10,
          totalPerChange: Math.round(((totalOf(calls) + background) / (runs * changesPerRun)) * 100) / 100
        }
      : {})
  }
}

const batch = (n: number, withIds: boolean) => ({ changes: Array.from({ length: n }, (_, i) => doc(`e${i}`, withIds)) })
const counts: CountRow[] = [
  await count(
    'append 1 change',
    20,
    () => send('POST', '/projects/count-1/changes', doc('a', false)),
    1,
    () => send('POST', '/projects/count-1/changes', doc('a', false))
  ),
  await count(
    'append 1 change with a changeId',
    20,
    () => send('POST', '/projects/count-2/changes', doc('a', true)),
    1,
    () => send('POST', '/projects/count-2/changes', doc('a', true))
  ),
  await count(
    'append 10 changes',
    10,
    () => send('POST', '/projects/count-3/changes', batch(10, false)),
    10,
    () => send('POST', '/projects/count-3/changes', batch(10, false))
  ),
  await count(
    'append 100 changes',
    5,
    () => send('POST', '/projects/count-4/changes', batch(100, false)),
    100,
    () => send('POST', '/projects/count-4/changes', batch(100, false))
  ),
  await count(
    'append 100 changes with changeIds',
    5,
    () => send('POST', '/projects/count-5/changes', batch(100, true)),
    100,
    () => send('POST', '/projects/count-5/changes', batch(100, true))
  ),
  await count(
    'GET …/stats, caught up',
    10,
    () => send('GET', '/projects/count-1/stats'),
    0,
    () => send('GET', '/projects/count-1/stats')
  ),
  await count('GET …/entities/…, caught up', 10, () => send('GET', '/projects/count-1/entities/document/a')),
  await count('GET …/changes?limit=100, one page', 6, run =>
    send('GET', `/projects/count-4/changes?since=${run * 100}&limit=100`)
  )
]

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
  // Each phase starts with the previous one's projection done, so no figure pays for another's backlog.
  await settled()
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
  await settled()
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

await settled()
const projection = await measureProjection({
  app,
  table: config.tables.projects,
  headers,
  latency,
  latencyMs,
  writers: 32,
  batchSize: 10,
  burstSeconds: Number(values.burst),
  backlogChanges: 3000,
  capSeconds: 30
})

await app.close()
await stack.close()

const machine = `${cpus().length} × ${cpus()[0]?.model.trim()}, ${platform()} ${arch()}, Node ${process.versions.node}`
if (values.json) {
  console.log(JSON.stringify({ machine, seconds, counts, rows, projection }, null, 2))
} else {
  console.log(`/projects on the embedded stack, ${seconds} s per figure; ${machine}\n`)
  console.log(
    '| request (one at a time, steady state) | DynamoDB calls on the request path | in the background, per change | per change, both |'
  )
  console.log('|---|---:|---:|---:|')
  for (const c of counts)
    console.log(`| ${c.request} | ${c.requestPath} | ${c.backgroundPerChange ?? ''} | ${c.totalPerChange ?? ''} |`)
  console.log()
  console.log('| concurrent writers (and readers) | appends/s | reads/s (limit=100) | changes read/s |')
  console.log('|---:|---:|---:|---:|')
  for (const r of rows)
    console.log(`| ${r.workers} | ${r.appendsPerSecond} | ${r.readsPerSecond} | ${r.changesReadPerSecond} |`)
  const p = projection
  console.log()
  console.log(
    `With ${p.latencyMs} ms added to every DynamoDB call, ${p.writers} writers appending batches of ${p.batchSize} to one project:`
  )
  console.log(
    '| appended changes/s | projected changes/s (a backlog) | projected / appended | caught up after the burst |'
  )
  console.log('|---:|---:|---:|---:|')
  const caughtUp =
    p.catchUpSeconds === undefined
      ? `not within ${p.capSeconds} s (${p.projectedAtEnd} of ${p.appended} at the burst's end)`
      : `${p.catchUpSeconds} s (${p.projectedAtEnd} of ${p.appended} at the burst's end)`
  console.log(
    `| ${p.appendRate} | ${p.projectionRate} | ${Math.round((p.projectionRate / p.appendRate) * 100) / 100} | ${caughtUp} |`
  )
}
