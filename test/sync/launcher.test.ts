/**
 * lambdaLauncher: the real Lambda client sends the continuation to a local
 * stand-in for Lambda's Invoke API, so the test sees the payload the function
 * would receive: continuationEvent's event, asynchronous, which the handler's
 * check reads back as the same continuation.
 */
import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { createAwsClients, destroyAwsClients } from '../../src/aws/clients.ts'
import { continuationEvent, continuationOf, isSyncContinuation } from '../../src/aws/lambda-events.ts'
import type { Continuation } from '../../src/aws/lambda-events.ts'
import { lambdaLauncher } from '../../src/sync/launcher.ts'

interface Invocation {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: string
}

/** Answers every Invoke as Lambda answers an asynchronous one (202, no body), keeping what it got. */
async function startInvokeApi(): Promise<{ url: string; invocations: Invocation[]; close: () => Promise<void> }> {
  const invocations: Invocation[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      invocations.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8')
      })
      res.writeHead(202, { 'x-amzn-requestid': 'stand-in' }).end()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    invocations,
    close: () => new Promise(resolve => server.close(() => resolve()))
  }
}

const api = await startInvokeApi()
t.teardown(() => api.close())

const clients = createAwsClients({ region: 'us-east-1', endpoints: { lambda: api.url }, useEmulatorCredentials: true })
t.teardown(() => destroyAwsClients(clients))
const launcher = lambdaLauncher({ functionName: 'atlas-api', client: clients.lambda })
t.teardown(() => launcher.close())

t.test('a continuation goes out as continuationEvent, invoked asynchronously on the configured function', async t => {
  const next: Continuation = {
    runId: '01890a5d-ac96-774b-bcce-b302099a8057',
    hop: 3,
    credentials: { email: 'someone@example.com', password: 'pw', vaultPassword: 'vault pw' },
    token: 'session-token'
  }
  await launcher.launch(next)
  t.equal(api.invocations.length, 1)
  const sent = api.invocations[0]!
  t.equal(sent.method, 'POST')
  t.equal(sent.path, '/2015-03-31/functions/atlas-api/invocations')
  t.equal(sent.headers['x-amz-invocation-type'], 'Event')
  const event: unknown = JSON.parse(sent.body)
  t.same(event, continuationEvent(next), 'the payload is exactly continuationEvent(next)')
  t.ok(isSyncContinuation(event), 'the handler recognises it as a continuation')
  t.strictSame(event, {
    sync_run: next.runId,
    hop: 3,
    credentials: next.credentials,
    token: 'session-token'
  })
})

t.test('without credentials or a token, the event carries neither key', async t => {
  api.invocations.length = 0
  await launcher.launch({ runId: '01890a5d-ac96-774b-bcce-b302099a8058', hop: 1 })
  t.equal(api.invocations.length, 1)
  t.strictSame(JSON.parse(api.invocations[0]!.body), { sync_run: '01890a5d-ac96-774b-bcce-b302099a8058', hop: 1 })
})

t.test("the handler reads back the continuation that was sent, a sync run's with no kind", async t => {
  const next: Continuation = { runId: '01890a5d-ac96-774b-bcce-b302099a8059', hop: 2, token: 'session-token' }
  api.invocations.length = 0
  await launcher.launch(next)
  const event: unknown = JSON.parse(api.invocations[0]!.body)
  t.ok(isSyncContinuation(event))
  t.same(continuationOf(event as Parameters<typeof continuationOf>[0]), next)
  t.notOk('kind' in continuationOf(continuationEvent({ ...next, kind: 'sync' })), "'sync' is the kind left out")
})
