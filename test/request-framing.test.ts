/**
 * What a client sees when its request is badly framed or slow, over a real
 * socket: every answer in the documented error shape, with a request id, and
 * one a client still sending can read.
 */
import { connect, type AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { REQUEST_TIMEOUT_MS } from '../src/app.ts'
import { generateApiKey } from '../src/auth/api-keys.ts'
import { SECURITY_HEADERS } from '../src/plugins/external/security-headers.ts'
import { buildTestApp, datasetBody, type TestTap } from './helper.ts'

const key = generateApiKey('everything', ['*'])
const env = { API_KEYS: JSON.stringify([key.entry]), RATE_LIMIT_MAX: '100000' }
const MIB = 1024 * 1024

async function listening(
  t: TestTap,
  requestTimeoutMs?: number
): Promise<{ port: number; url: string; logs: Array<{ level: number; msg: string }> }> {
  const logs: Array<{ level: number; msg: string }> = []
  const { app } = await buildTestApp(t, {
    env: { ...env, LOG_LEVEL: 'info' },
    requestTimeoutMs,
    logStream: { write: line => void logs.push(JSON.parse(line)) }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return { port, url: `http://127.0.0.1:${port}`, logs }
}

interface RawAnswer {
  head: string
  body: string
  ms: number
}

/** Sends these bytes and no more; resolves with what comes back once the server closes, or fails after `patienceMs`. */
async function raw(port: number, request: string, patienceMs = 10_000): Promise<RawAnswer> {
  const started = Date.now()
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request))
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no answer within ${patienceMs} ms; so far: ${Buffer.concat(chunks).toString('utf8')}`))
    }, patienceMs)
    socket.on('data', chunk => chunks.push(chunk))
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      const [head = '', body = ''] = Buffer.concat(chunks).toString('utf8').split('\r\n\r\n')
      resolve({ head, body, ms: Date.now() - started })
    })
  })
}

function inErrorShape(t: Test, answer: RawAnswer, status: number, code: string): void {
  t.match(answer.head, new RegExp(`^HTTP/1.1 ${status} `), `status ${status}`)
  t.match(answer.head, /\r\nx-request-id: [0-9a-f-]{36}/i, 'a request id')
  for (const header of Object.keys(SECURITY_HEADERS)) t.match(answer.head, new RegExp(`\r\n${header}: `, 'i'), header)
  const body = JSON.parse(answer.body)
  t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'])
  t.match(body, { statusCode: status, code })
}

t.test('a request whose body never finishes arriving is answered 408', async t => {
  const { port, logs } = await listening(t, 300)
  const slowBody = await raw(
    port,
    `POST /data HTTP/1.1\r\nhost: x\r\nx-api-key: ${key.key}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"keyId":`
  )
  inErrorShape(t, slowBody, 408, 'REQUEST_TIMEOUT')
  t.ok(slowBody.ms < 5_000, `answered after ${slowBody.ms} ms`)
  const slowHeaders = await raw(port, `GET /health HTTP/1.1\r\nhost: x\r\nx-waiting: `)
  inErrorShape(t, slowHeaders, 408, 'REQUEST_TIMEOUT')
  await new Promise(resolve => setTimeout(resolve, 200))
  t.same(
    logs.filter(line => line.level >= 50).map(line => line.msg),
    [],
    'a slow client is no failure of ours: nothing logged as an error'
  )
})

t.test('by default a slow request has its 408 within 30 s of its start', async t => {
  const { app } = await buildTestApp(t, { env })
  const server = app.server as typeof app.server & { connectionsCheckingInterval: number }
  t.equal(server.requestTimeout, REQUEST_TIMEOUT_MS)
  t.ok(server.headersTimeout <= server.requestTimeout, 'headers are due within the same time')
  t.ok(server.connectionsCheckingInterval > 0)
  t.ok(server.requestTimeout + server.connectionsCheckingInterval <= 30_000, 'the timeout plus one check period')
})

t.test("a request without Host gets Node's 400 in the documented shape", async t => {
  const { port } = await listening(t)
  inErrorShape(t, await raw(port, 'GET /health HTTP/1.1\r\n\r\n'), 400, 'BAD_REQUEST')
  const http10 = await raw(port, 'GET /health HTTP/1.0\r\n\r\n')
  t.match(http10.head, /^HTTP\/1.1 200 /, 'HTTP/1.0 has no Host to require')
})

t.test('parser errors in the middle of a body are answered in the documented shape', async t => {
  const { port } = await listening(t)
  const head = `POST /data HTTP/1.1\r\nhost: x\r\nx-api-key: ${key.key}\r\ncontent-type: application/json\r\n`
  inErrorShape(t, await raw(port, `${head}transfer-encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n`), 400, 'BAD_REQUEST')
  inErrorShape(
    t,
    await raw(port, `${head}transfer-encoding: chunked\r\ncontent-length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n`),
    400,
    'BAD_REQUEST'
  )
})

t.test("a body over the limit: Node's fetch reads its 413 while still sending", async t => {
  const { url } = await listening(t)
  const headers = { 'x-api-key': key.key, 'content-type': 'application/json' }
  // The 7 MiB, and more than loopback's socket buffers hold, so the client is surely still sending.
  for (const mib of [7, 15]) {
    const big = JSON.stringify({ ...datasetBody(), payload: 'x'.repeat(mib * MIB) })
    const res = await fetch(`${url}/data`, { method: 'POST', headers, body: big })
    t.equal(res.status, 413, `${mib} MiB`)
    t.match(await res.json(), { statusCode: 413, code: 'BODY_TOO_LARGE' })
    t.ok(res.headers.get('x-request-id'))
  }

  // Chunked, with no Content-Length to judge it by in advance.
  const chunks = (async function* () {
    yield new TextEncoder().encode(JSON.stringify(datasetBody()).slice(0, -2))
    for (let i = 0; i < 15; i++) yield new TextEncoder().encode('x'.repeat(MIB))
  })()
  const chunked = await fetch(`${url}/data`, {
    method: 'POST',
    headers,
    body: ReadableStream.from(chunks),
    duplex: 'half'
  } as RequestInit)
  t.equal(chunked.status, 413)
  t.match(await chunked.json(), { code: 'BODY_TOO_LARGE' })

  const after = await fetch(`${url}/data`, { method: 'POST', headers, body: JSON.stringify(datasetBody()) })
  t.equal(after.status, 201, 'the server still takes bodies within the limit')
})

t.test('a body declared past what is worth reading gets its 413 at once, and the connection closes', async t => {
  const { port } = await listening(t)
  const answer = await raw(
    port,
    `POST /data HTTP/1.1\r\nhost: x\r\nx-api-key: ${key.key}\r\ncontent-type: application/json\r\ncontent-length: ${64 * MIB}\r\n\r\n{`
  )
  inErrorShape(t, answer, 413, 'BODY_TOO_LARGE')
  t.match(answer.head, /\r\nconnection: close/i)
})

t.test('a body with a Content-Encoding is 415 and nothing is stored', async t => {
  const { app } = await buildTestApp(t, { env })
  for (const encoding of ['gzip', 'deflate', 'br', 'x-unknown']) {
    const res = await app.inject({
      method: 'POST',
      url: '/data',
      headers: { 'x-api-key': key.key, 'content-type': 'application/json', 'content-encoding': encoding },
      payload: JSON.stringify(datasetBody())
    })
    t.equal(res.statusCode, 415, encoding)
    t.equal(res.json().code, 'UNSUPPORTED_CONTENT_ENCODING')
  }
  const identity = await app.inject({
    method: 'POST',
    url: '/data',
    headers: { 'x-api-key': key.key, 'content-type': 'application/json', 'content-encoding': 'identity' },
    payload: JSON.stringify(datasetBody())
  })
  t.equal(identity.statusCode, 201, 'identity is no encoding')
})
