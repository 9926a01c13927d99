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
import { fork, spawn } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { existsSync, rmSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { isDeepStrictEqual, parseArgs } from 'node:util'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const INVOKER_FLAG = '--invoker'

// ---------------------------------------------------------------------------
// The fresh process: loads the bundle the way the Lambda runtime does, then
// invokes its handler for each event the parent sends over IPC. Logs go to
// stdout/stderr, results over IPC, so the two cannot mix.

async function invoker (bundle) {
  const send = message => new Promise(done => process.send(message, done))
  const started = performance.now()
  let handler
  try {
    ({ handler } = await import(pathToFileURL(bundle).href))
    if (typeof handler !== 'function') throw new Error(`${bundle} exports no handler function`)
  } catch (err) {
    await send({ type: 'init-error', error: String(err?.stack ?? err) })
    process.exit(1)
  }
  await send({ type: 'ready', loadMs: performance.now() - started })
  process.on('message', async ({ id, event }) => {
    try {
      const result = await handler(event, lambdaContext(event.requestContext.requestId))
      await send({ type: 'result', id, result })
    } catch (err) {
      await send({ type: 'result', id, error: String(err?.stack ?? err) })
    }
  })
  process.on('disconnect', () => process.exit(0))
}

/** What the nodejs22.x runtime hands a handler as its second argument. */
function lambdaContext (awsRequestId) {
  const deadline = Date.now() + 30_000
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'atlas-api-ApiFunction-SMOKE',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:atlas-api-ApiFunction-SMOKE',
    memoryLimitInMB: '1024',
    awsRequestId,
    logGroupName: '/aws/lambda/atlas-api-ApiFunction-SMOKE',
    logStreamName: '2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {}
  }
}

// ---------------------------------------------------------------------------
// The parent: stack up, invoker up, checks, everything down.

/** An API Gateway HTTP API payload 2.0 event, as the `$default` route delivers it. */
function httpApiEvent ({ method, path, query = '', headers = {}, body }) {
  const now = new Date()
  const requestId = `${randomBytes(12).toString('base64url').slice(0, 15)}=` // API Gateway's look like "JKJaXmPLvHcESHA="
  const domainName = 'abc123defg.execute-api.us-east-1.amazonaws.com'
  const userAgent = 'atlas-smoke/1.0'
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: query,
    headers: {
      accept: 'application/json',
      'content-length': String(body === undefined ? 0 : Buffer.byteLength(body)),
      host: domainName,
      'user-agent': userAgent,
      'x-amzn-trace-id': `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)}`,
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
      ...headers
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123defg',
      domainName,
      domainPrefix: 'abc123defg',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent },
      requestId,
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString().replace(/^(\d+)-(\d+)-(\d+)T([\d:]+)\.\d+Z$/, (_, y, m, d, t) =>
        `${d}/${['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][Number(m) - 1]}/${y}:${t} +0000`),
      timeEpoch: now.getTime()
    },
    isBase64Encoded: false
  }
  if (query !== '') event.queryStringParameters = Object.fromEntries(new URLSearchParams(query))
  if (body !== undefined) event.body = body
  return event
}

function freePort () {
  return new Promise((ok, fail) => {
    const server = createServer()
    server.once('error', fail)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => ok(port))
    })
  })
}

const sleep = ms => new Promise(done => setTimeout(done, ms))

/** Keeps the last lines a process wrote, to show when something fails. */
function tail (stream, lines = 40) {
  const kept = []
  stream?.setEncoding('utf8')
  stream?.on('data', chunk => {
    kept.push(...chunk.split('\n').filter(Boolean))
    kept.splice(0, Math.max(0, kept.length - lines))
  })
  return () => kept.join('\n')
}

async function main () {
  const { values } = parseArgs({ options: { bundle: { type: 'string', default: 'dist/lambda/index.mjs' } } })
  const bundle = resolve(root, values.bundle)
  if (!existsSync(bundle)) {
    console.error(`${bundle} is missing: run \`npm run build\` first`)
    process.exit(1)
  }

  let passed = 0
  let failed = 0
  const check = (ok, name, detail) => {
    if (ok) passed++
    else failed++
    console.log(`${ok ? 'ok' : 'not ok'} - ${name}${!ok && detail !== undefined ? `\n  # ${String(detail).replace(/\n/g, '\n  # ')}` : ''}`)
    return ok
  }

  const temp = await mkdtemp(join(tmpdir(), 'atlas-smoke-'))
  const envFile = join(temp, 'stack-env.json')
  let stack
  let stackLog = () => ''
  let invokerProcess
  let invokerLog = () => ''

  // The stack runs as its own process group (npx -> tsx -> node): stop the whole group, whatever happens.
  const killStack = signal => {
    if (stack?.exitCode === null && stack.signalCode === null) {
      try { process.kill(-stack.pid, signal) } catch { /* already gone */ }
    }
  }
  process.on('exit', () => {
    killStack('SIGKILL')
    invokerProcess?.kill('SIGKILL')
    rmSync(temp, { recursive: true, force: true })
  })
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130))

  try {
    const [dynamodbPort, s3Port] = [await freePort(), await freePort()]
    stack = spawn('npx', ['tsx', 'src/local/stack-cli.ts',
      '--dynamodb-port', String(dynamodbPort), '--s3-port', String(s3Port),
      '--host', '127.0.0.1', '--endpoint-host', '127.0.0.1', '--env-out', envFile], {
      cwd: root,
      env: { ...process.env, DATA_DIR: join(temp, 'data'), LOG_LEVEL: 'info', NODE_ENV: 'development' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true
    })
    const stackOut = tail(stack.stdout)
    const stackErr = tail(stack.stderr)
    stackLog = () => [stackOut(), stackErr()].filter(Boolean).join('\n')

    // stack-cli writes the env file once the tables and buckets exist.
    let parameters
    const deadline = Date.now() + 60_000
    while (parameters === undefined) {
      if (stack.exitCode !== null || stack.signalCode !== null) throw new Error(`the stack exited early (${stack.exitCode ?? stack.signalCode})`)
      if (Date.now() > deadline) throw new Error('the stack did not write its env file within 60 s')
      try {
        parameters = JSON.parse(await readFile(envFile, 'utf8')).Parameters
      } catch {
        await sleep(100)
      }
    }
    check(typeof parameters?.AWS_ENDPOINT_URL_DYNAMODB === 'string' && typeof parameters.AWS_ENDPOINT_URL_S3 === 'string',
      `embedded stack up (DynamoDB :${dynamodbPort}, S3 :${s3Port}), env file written`, JSON.stringify(parameters))

    // A fresh process, and nothing of ours in its environment but the env file's Parameters (as on Lambda, plus PATH).
    invokerProcess = fork(fileURLToPath(import.meta.url), [INVOKER_FLAG, bundle], {
      cwd: temp,
      env: {
        PATH: process.env.PATH,
        ...parameters,
        NODE_ENV: 'production',
        AWS_LAMBDA_FUNCTION_NAME: 'atlas-api-ApiFunction-SMOKE',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
        TZ: 'UTC'
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc']
    })
    const invokerOut = tail(invokerProcess.stdout)
    const invokerErr = tail(invokerProcess.stderr)
    invokerLog = () => [invokerOut(), invokerErr()].filter(Boolean).join('\n')

    const pending = new Map()
    let nextId = 0
    const ready = new Promise((ok, fail) => {
      invokerProcess.on('message', message => {
        if (message.type === 'ready') ok(message)
        else if (message.type === 'init-error') fail(new Error(message.error))
        else if (message.type === 'result') {
          pending.get(message.id)?.(message)
          pending.delete(message.id)
        }
      })
      invokerProcess.once('exit', code => fail(new Error(`the bundle's process exited (${code})`)))
    })
    const invoke = async event => {
      const id = nextId++
      const answer = new Promise((ok, fail) => {
        pending.set(id, ok)
        setTimeout(() => fail(new Error(`no answer to ${event.requestContext.http.method} ${event.rawPath} within 15 s`)), 15_000).unref()
      })
      invokerProcess.send({ id, event })
      const message = await answer
      if (message.error !== undefined) throw new Error(message.error)
      return message.result
    }
    const json = response => {
      try { return JSON.parse(response.isBase64Encoded ? Buffer.from(response.body, 'base64').toString('utf8') : response.body) } catch { return undefined }
    }
    const show = response => `${response.statusCode} ${response.body?.slice(0, 500)}`

    const { loadMs } = await ready
    check(true, `bundle loads in a fresh node process (${Math.round(loadMs)} ms, ${bundle.replace(root + '/', '')})`)

    const healthEvent = httpApiEvent({ method: 'GET', path: '/health' })
    const health = await invoke(healthEvent)
    check(health.statusCode === 200 && json(health)?.status === 'ok', 'GET /health -> 200 {"status":"ok"}', show(health))
    check(health.headers?.['x-request-id'] === healthEvent.requestContext.requestId,
      'x-request-id is API Gateway\'s requestId', JSON.stringify(health.headers))

    const payload = 'ciphertext'
    const meta = { enc: 'AES-GCM', kdf: 'PBKDF2-SHA256', iterations: 250000, salt: 'c2FsdA==', iv: 'AAECAwQFBgcICQoL', schemaVersion: 7 }
    const body = JSON.stringify({ payload, meta })
    const created = await invoke(httpApiEvent({ method: 'POST', path: '/data', headers: { 'content-type': 'application/json' }, body }))
    const keyId = json(created)?.keyId
    check(created.statusCode === 201 && typeof keyId === 'string' && /^[0-9a-f-]{36}$/i.test(keyId),
      `POST /data -> 201 with a keyId${typeof keyId === 'string' ? ` (${keyId})` : ''}`, show(created))
    check(created.headers?.location === `/data/${keyId}`, 'POST /data -> Location /data/{keyId}', JSON.stringify(created.headers))

    if (typeof keyId === 'string') {
      const read = await invoke(httpApiEvent({ method: 'GET', path: `/data/${keyId}` }))
      const dataset = json(read)
      check(read.statusCode === 200 && dataset?.keyId === keyId && dataset.payload === payload && isDeepStrictEqual(dataset.meta, meta),
        `GET /data/${keyId} -> 200, same payload and meta`, show(read))
    } else {
      check(false, 'GET /data/{keyId} -> 200, same payload and meta', 'no keyId from POST /data')
    }
  } catch (err) {
    check(false, 'smoke run', err instanceof Error ? err.message : err)
  } finally {
    if (failed > 0) {
      const logs = [['bundle process', invokerLog()], ['stack', stackLog()]].filter(([, text]) => text !== '')
      for (const [name, text] of logs) console.log(`# --- ${name} output (last lines) ---\n# ${text.replace(/\n/g, '\n# ')}`)
    }
    if (invokerProcess?.connected) invokerProcess.disconnect()
    invokerProcess?.kill()
    killStack('SIGTERM')
    const stopped = stack === undefined || stack.exitCode !== null || stack.signalCode !== null ||
      await Promise.race([new Promise(done => stack.once('exit', () => done(true))), sleep(5000).then(() => false)])
    if (!stopped) killStack('SIGKILL')
    await rm(temp, { recursive: true, force: true })
  }

  console.log(`${passed} passed, ${failed} failed`)
  process.exitCode = failed > 0 ? 1 : 0
}

// Last, so every declaration above is initialized.
if (process.argv[2] === INVOKER_FLAG) {
  await invoker(process.argv[3])
} else {
  await main()
}
