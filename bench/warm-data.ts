/**
 * `npm run bench:warm [-- --requests 400] [-- --rounds 7] [-- --json]`: the warm
 * path, GET /data/{keyId}, through the whole app (routing, auth and rate-limit
 * hooks, validation, serialization) against a minimal Fastify route that does
 * the same single consistent GetItem on the same engine (the embedded
 * dynalite) and returns the item. The app runs twice: with the validators and
 * serializers the Lambda bundle ships (precompiled, as `npm run build`
 * generates them) and with those compiled at start-up.
 *
 * Requests are injected in-process, one at a time; rounds alternate between
 * the three so they share the machine's state, each round starting with the
 * next of them so none always follows the same one. Reported: the median
 * requests/s over rounds and each app's ratio to the minimal route. A
 * benchmark, not a test: it reports, it does not judge.
 */
import { arch, cpus, platform } from 'node:os'
import { parseArgs } from 'node:util'
import { GetCommand } from '@aws-sdk/lib-dynamodb'
import Fastify, { type FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.ts'
import { createAwsClients, destroyAwsClients } from '../src/aws/clients.ts'
import { documentClient } from '../src/repositories/dynamo.ts'
import { precompiledCompilers } from '../src/http/schema-compilers.ts'
import { collectSchemas, generateModule, loadModule } from '../scripts/precompile-schemas.ts'
import { datasetBody } from '../scripts/lib/datasets.ts'
import { benchStack } from './stack.ts'

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '400' },
    rounds: { type: 'string', default: '7' },
    json: { type: 'boolean', default: false }
  }
})
const requests = Number(values.requests)
const rounds = Number(values.rounds)

const stack = await benchStack()
const { config } = stack
const clients = createAwsClients(config)

const generated = await collectSchemas()
await generated.app.close()
const precompiled = precompiledCompilers(loadModule(generateModule(generated.schemas)))

const lambdaLike = await buildApp(config, { clients, schemaCompilers: precompiled })
const startUpCompiled = await buildApp(config, { clients })

// The floor: the same GetItem the data repository's read makes (its head item, consistent), nothing around it.
const db = documentClient(clients.dynamodb)
const minimal = Fastify({ logger: false })
minimal.get<{ Params: { keyId: string } }>('/data/:keyId', async (request, reply) => {
  const { Item } = await db.send(
    new GetCommand({
      TableName: config.tables.data,
      Key: { keyId: request.params.keyId, sk: 'HEAD' },
      ConsistentRead: true
    })
  )
  if (Item === undefined) return await reply.code(404).send({ message: 'not found' })
  return Item
})

const targets: Array<{ name: string; app: FastifyInstance; rates: number[] }> = [
  { name: 'app, precompiled schemas (the Lambda bundle)', app: lambdaLike, rates: [] },
  { name: 'app, schemas compiled at start-up', app: startUpCompiled, rates: [] },
  { name: 'minimal route, same GetItem', app: minimal, rates: [] }
]
for (const { app } of targets) await app.ready()

const created = await lambdaLike.inject({ method: 'POST', url: '/data', payload: datasetBody() })
if (created.statusCode !== 201) throw new Error(`POST /data: ${created.statusCode} ${created.body}`)
const url = `/data/${created.json<{ keyId: string }>().keyId}`

async function round(app: FastifyInstance): Promise<number> {
  const started = performance.now()
  for (let i = 0; i < requests; i++) {
    const res = await app.inject({ method: 'GET', url })
    if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${res.body}`)
  }
  return requests / ((performance.now() - started) / 1000)
}

for (const { app } of targets) await round(app) // warm-up, discarded
// Each round starts with the next target, so none always runs right after the same one (and its garbage).
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < targets.length; k++) {
    const target = targets[(r + k) % targets.length]!
    target.rates.push(await round(target.app))
  }
}

const median = (numbers: number[]) => {
  const sorted = [...numbers].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
const floor = median(targets[2]!.rates)
const rows = targets.map(t => ({
  name: t.name,
  perSecond: Math.round(median(t.rates)),
  ratio: median(t.rates) / floor
}))

for (const { app } of targets) await app.close()
destroyAwsClients(clients)
await stack.close()

const machine = `${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, node ${process.version}, ${platform()}/${arch()}`
if (values.json) {
  console.log(JSON.stringify({ machine, requests, rounds, rows }, null, 2))
} else {
  console.log(`machine: ${machine}`)
  console.log(`GET /data/{keyId}, ${requests} sequential in-process requests per round, median of ${rounds} rounds`)
  console.log('')
  const width = Math.max(...rows.map(r => r.name.length))
  console.log(`${'target'.padEnd(width)}  requests/s  ratio to minimal`)
  for (const r of rows) {
    console.log(`${r.name.padEnd(width)}  ${String(r.perSecond).padStart(10)}  ${r.ratio.toFixed(2).padStart(15)}x`)
  }
}
