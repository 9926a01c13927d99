/**
 * `npm run smoke:lambda`: the built Lambda bundle (dist/lambda/index.mjs, from
 * `npm run build`) against the embedded stack, driven by real API Gateway HTTP
 * API (payload 2.0) events, in a fresh Node process with only the environment
 * that `npm run stack` writes for `sam local`.
 *
 *   node scripts/smoke-lambda.mjs [--bundle dist/lambda/index.mjs]
 *
 * Prints `ok - …` / `not ok - …` per check and `N passed, N failed`; exits 1 on
 * any failure. The stack is always stopped and its temporary data removed.
 */
import { spawn } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual, parseArgs } from 'node:util'
import { jsonOf, show, startBundle } from './lib/bundle-process.mjs'
import { httpApiEvent } from './lib/lambda-events.mjs'
import { checklist, freePort, sleep, tail } from './lib/processes.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** `npm run stack` on free ports, as its own process group; resolves with the env file's Parameters. */
async function startStack(temp) {
  const envFile = join(temp, 'stack-env.json')
  const [dynamodbPort, s3Port] = [await freePort(), await freePort()]
  const child = spawn(
    'npx',
    [
      'tsx',
      'src/entries/stack-cli.ts',
      '--dynamodb-port',
      String(dynamodbPort),
      '--s3-port',
      String(s3Port),
      '--host',
      '127.0.0.1',
      '--endpoint-host',
      '127.0.0.1',
      '--env-out',
      envFile
    ],
    {
      cwd: root,
      env: { ...process.env, DATA_DIR: join(temp, 'data'), LOG_LEVEL: 'info', NODE_ENV: 'development' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true
    }
  )
  const out = tail(child.stdout)
  const err = tail(child.stderr)
  const running = () => child.exitCode === null && child.signalCode === null
  // npx -> tsx -> node: stop the whole group.
  const kill = signal => {
    if (running())
      try {
        process.kill(-child.pid, signal)
      } catch {
        /* already gone */
      }
  }
  const stack = {
    log: () => [out(), err()].filter(Boolean).join('\n'),
    kill,
    async stop() {
      kill('SIGTERM')
      const stopped =
        !running() ||
        (await Promise.race([new Promise(done => child.once('exit', () => done(true))), sleep(5000).then(() => false)]))
      if (!stopped) kill('SIGKILL')
    },
    parameters: undefined,
    ports: { dynamodbPort, s3Port }
  }
  // stack-cli writes the env file once the tables and buckets exist.
  const deadline = Date.now() + 60_000
  while (stack.parameters === undefined) {
    if (!running())
      throw Object.assign(new Error(`the stack exited early (${child.exitCode ?? child.signalCode})`), {
        stackProcess: stack
      })
    if (Date.now() > deadline)
      throw Object.assign(new Error('the stack did not write its env file within 60 s'), { stackProcess: stack })
    try {
      stack.parameters = JSON.parse(await readFile(envFile, 'utf8')).Parameters
    } catch {
      await sleep(100)
    }
  }
  return stack
}

async function checks(invoke, check, documentFile) {
  const healthEvent = httpApiEvent({ method: 'GET', path: '/health' })
  const health = await invoke(healthEvent)
  check(
    health.statusCode === 200 && jsonOf(health)?.status === 'ok',
    'GET /health -> 200 {"status":"ok"}',
    show(health)
  )
  check(
    health.headers?.['x-request-id'] === healthEvent.requestContext.requestId,
    "x-request-id is API Gateway's requestId",
    JSON.stringify(health.headers)
  )

  // The docs are loaded on their first request, from chunks and files beside the bundle.
  const doc = await invoke(httpApiEvent({ method: 'GET', path: '/docs/json' }))
  check(
    doc.statusCode === 200 && /^3\./.test(jsonOf(doc)?.openapi ?? '') && '/data/{keyId}' in (jsonOf(doc)?.paths ?? {}),
    'GET /docs/json -> 200, the OpenAPI document the build wrote',
    show(doc)
  )
  const ui = await invoke(httpApiEvent({ method: 'GET', path: '/docs/static/swagger-initializer.js' }))
  check(
    ui.statusCode === 200 && /SwaggerUIBundle/.test(ui.body ?? ''),
    'GET /docs/static/swagger-initializer.js -> 200, the UI',
    show(ui)
  )

  const payload = 'ciphertext'
  const meta = {
    enc: 'AES-GCM',
    kdf: 'PBKDF2-SHA256',
    iterations: 250000,
    salt: 'c2FsdA==',
    iv: 'AAECAwQFBgcICQoL',
    schemaVersion: 7
  }
  const created = await invoke(
    httpApiEvent({
      method: 'POST',
      path: '/data',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payload, meta })
    })
  )
  const keyId = jsonOf(created)?.keyId
  check(
    created.statusCode === 201 && typeof keyId === 'string' && /^[0-9a-f-]{36}$/i.test(keyId),
    `POST /data -> 201 with a keyId${typeof keyId === 'string' ? ` (${keyId})` : ''}`,
    show(created)
  )
  check(
    created.headers?.location === `/data/${keyId}`,
    'POST /data -> Location /data/{keyId}',
    JSON.stringify(created.headers)
  )
  if (typeof keyId !== 'string')
    return check(false, 'GET /data/{keyId} -> 200, same payload and meta', 'no keyId from POST /data')
  const read = await invoke(httpApiEvent({ method: 'GET', path: `/data/${keyId}` }))
  const dataset = jsonOf(read)
  check(
    read.statusCode === 200 &&
      dataset?.keyId === keyId &&
      dataset.payload === payload &&
      isDeepStrictEqual(dataset.meta, meta),
    `GET /data/${keyId} -> 200, same payload and meta`,
    show(read)
  )

  const served = jsonOf(await invoke(httpApiEvent({ method: 'GET', path: '/docs/json' })))
  const written = await readFile(documentFile, 'utf8').then(JSON.parse, () => undefined)
  check(
    written !== undefined && isDeepStrictEqual(served, written),
    `${documentFile.replace(root + '/', '')} is the document the bundle serves at /docs/json`,
    written === undefined ? 'missing or not JSON' : 'they differ'
  )
}

const { values } = parseArgs({ options: { bundle: { type: 'string', default: 'dist/lambda/index.mjs' } } })
const bundle = resolve(root, values.bundle)
if (!existsSync(bundle)) {
  console.error(`${bundle} is missing: run \`npm run build\` first`)
  process.exit(1)
}

const list = checklist()
const { check } = list
const temp = await mkdtemp(join(tmpdir(), 'atlas-smoke-'))
let stack
let fn
process.on('exit', () => {
  stack?.kill('SIGKILL')
  fn?.stop()
  rmSync(temp, { recursive: true, force: true })
})
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130))

try {
  stack = await startStack(temp)
  const { parameters, ports } = stack
  check(
    typeof parameters?.AWS_ENDPOINT_URL_DYNAMODB === 'string' && typeof parameters.AWS_ENDPOINT_URL_S3 === 'string',
    `embedded stack up (DynamoDB :${ports.dynamodbPort}, S3 :${ports.s3Port}), env file written`,
    JSON.stringify(parameters)
  )
  fn = startBundle(bundle, {
    cwd: temp,
    functionName: 'atlas-api-ApiFunction-SMOKE',
    env: {
      ...parameters,
      NODE_ENV: 'production',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x'
    }
  })
  const { loadMs } = await fn.ready
  check(
    true,
    `bundle loads in a fresh Node ${process.version} process (${Math.round(loadMs)} ms, ${bundle.replace(root + '/', '')})`
  )
  await checks(event => fn.invoke(event, 15_000), check, join(dirname(bundle), '..', 'openapi.json'))
} catch (err) {
  stack ??= err.stackProcess
  check(false, 'smoke run', err instanceof Error ? err.message : err)
} finally {
  if (list.failed > 0) {
    const logs = [
      ['bundle process', fn?.log() ?? ''],
      ['stack', stack?.log?.() ?? '']
    ].filter(([, text]) => text !== '')
    for (const [name, text] of logs)
      console.log(`# --- ${name} output (last lines) ---\n# ${text.replace(/\n/g, '\n# ')}`)
  }
  fn?.stop()
  await stack?.stop?.()
  await rm(temp, { recursive: true, force: true })
}

console.log(list.summary())
process.exitCode = list.failed > 0 ? 1 : 0
