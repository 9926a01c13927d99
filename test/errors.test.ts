import { readdirSync, readFileSync } from 'node:fs'
import { errorCodes } from 'fastify'
import t from 'tap'
import { buildApp } from '../src/app.ts'
import { ConflictError, ERROR_CODES, UnavailableError } from '../src/core/errors.ts'
import { toErrorResponse } from '../src/plugins/app/errors.ts'
import { datasetBody, documentedErrorCodes, testConfig } from './helper.ts'

const json = { 'content-type': 'application/json' }

/** The error shape every error answers in. */
const errorBody = (statusCode: number, error: string, message: string, code: string) => ({
  statusCode,
  error,
  message,
  code
})

t.test('an unknown route is a JSON 404', async t => {
  const app = await buildApp(await testConfig())
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/no/such/route?x=1' })
  t.equal(res.statusCode, 404)
  t.same(res.json(), errorBody(404, 'Not Found', 'Route GET /no/such/route not found', 'ROUTE_NOT_FOUND'))
})

t.test('an unexpected error is a 500 with no internals', async t => {
  const app = await buildApp(await testConfig())
  t.teardown(() => app.close())
  app.get('/boom', { config: { auth: 'public' } }, async () => {
    throw new Error('secret table arn:aws:dynamodb:us-east-1:123:table/x at repo.ts:42')
  })
  const res = await app.inject({ method: 'GET', url: '/boom' })
  t.equal(res.statusCode, 500)
  t.same(res.json(), errorBody(500, 'Internal Server Error', 'Internal Server Error', 'INTERNAL_ERROR'))
  t.notMatch(res.body, /secret|arn:|repo\.ts|stack/)
})

t.test('DynamoDB unreachable: 503 with Retry-After, in the error shape', async t => {
  const config = await testConfig()
  // Nothing listens on port 1: a real connection failure, no mocked client.
  const app = await buildApp({ ...config, endpoints: { ...config.endpoints, dynamodb: 'http://127.0.0.1:1' } })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/data', headers: json, payload: datasetBody() })
  t.equal(res.statusCode, 503)
  t.ok(Number(res.headers['retry-after']) > 0, 'Retry-After is set')
  t.match(res.json(), { statusCode: 503, code: 'DEPENDENCY_UNAVAILABLE' })
  t.notMatch(res.body, /ECONNREFUSED|127\.0\.0\.1/)
})

t.test("a domain error's details join the body and its headers the answer, under the class's status", async t => {
  const busy = new ConflictError('SYNC_IN_PROGRESS', 'taken', {
    details: { run_id: 'r1', code: 'NOT_THIS', statusCode: 200 },
    headers: { location: '/sync/runs/r1' }
  })
  t.same(toErrorResponse(busy), {
    body: { statusCode: 409, error: 'Conflict', message: 'taken', code: 'SYNC_IN_PROGRESS', run_id: 'r1' },
    headers: { location: '/sync/runs/r1' }
  })
  const down = new UnavailableError('DEPENDENCY_UNAVAILABLE', 'down', { details: { status: 'degraded' } })
  t.same(toErrorResponse(down).headers, { 'retry-after': '2' }, 'a 503 keeps its Retry-After')
  t.equal(toErrorResponse(down).body.status, 'degraded')
  const cause = new Error('the SDK said no')
  t.equal(new UnavailableError('DEPENDENCY_UNAVAILABLE', 'y', { cause }).cause, cause, 'the cause is kept')
})

t.test('AWS throttling and server errors map to 503; client errors do not', async t => {
  const throttled = Object.assign(new Error('Rate exceeded'), {
    name: 'ProvisionedThroughputExceededException',
    $metadata: { httpStatusCode: 400 }
  })
  t.equal(toErrorResponse(throttled).body.statusCode, 503)
  t.equal(toErrorResponse(throttled).headers['retry-after'], '2')
  const s3Slow = Object.assign(new Error('Please reduce your request rate'), {
    name: 'SlowDown',
    $metadata: { httpStatusCode: 503 }
  })
  t.equal(toErrorResponse(s3Slow).body.statusCode, 503)
  const awsInternal = Object.assign(new Error('oops'), {
    name: 'InternalServerError',
    $metadata: { httpStatusCode: 500 }
  })
  t.equal(toErrorResponse(awsInternal).body.statusCode, 503)
  const validation = Object.assign(new Error('One or more parameter values were invalid'), {
    name: 'ValidationException',
    $metadata: { httpStatusCode: 400 }
  })
  t.equal(
    toErrorResponse(validation).body.statusCode,
    500,
    "a request our code built wrong is our bug, not the client's"
  )
  t.equal(toErrorResponse(validation).body.message, 'Internal Server Error')
})

t.test('the README lists exactly the error codes the source can send', async t => {
  // Error constructors, the error handler and the framework tables take only ERROR_CODES (the compiler sees to it).
  const documented = documentedErrorCodes()
  const codes = new Set<string>(ERROR_CODES)
  t.same(
    [...codes].filter(code => !documented.has(code)),
    [],
    'every code the source can send is documented'
  )
  t.same(
    [...documented].filter(code => !codes.has(code)),
    [],
    'every documented code is one the source can send'
  )
  const src = new URL('../src/', import.meta.url)
  const sources = (readdirSync(src, { recursive: true }) as string[])
    .filter(file => file.endsWith('.ts') && file !== 'core/errors.ts')
    .map(file => readFileSync(new URL(file, src), 'utf8'))
    .join('\n')
  t.same(
    ERROR_CODES.filter(code => !sources.includes(`'${code}'`)),
    [],
    'every code is one some error of the source is built with, not only listed'
  )
})

t.test('each not-found error is built in one place: the function its resource exports', async t => {
  const src = new URL('../src/', import.meta.url)
  const files = (readdirSync(src, { recursive: true }) as string[]).filter(file => file.endsWith('.ts'))
  const built = (code: string, file: string) =>
    readFileSync(new URL(file, src), 'utf8').match(new RegExp(`NotFoundError\\(\\s*'${code}'`, 'g'))?.length ?? 0
  // ROUTE_NOT_FOUND is the router's, not a resource's.
  const exempt = new Set(['ROUTE_NOT_FOUND'])
  for (const code of ERROR_CODES.filter(code => code.endsWith('_NOT_FOUND') && !exempt.has(code))) {
    const sites = files.flatMap(file => Array.from({ length: built(code, file) }, () => file))
    t.equal(sites.length, 1, `${code} is built in ${sites.join(', ')}`)
  }
})

t.test("every error Fastify raises reaches clients with a documented code, never Fastify's own", async t => {
  const documented = documentedErrorCodes()
  t.ok(documented.has('BAD_REQUEST') && documented.has('VALIDATION_FAILED'), 'the section is found')
  for (const [name, FastifyError] of Object.entries(errorCodes)) {
    const err = new (FastifyError as new (...args: string[]) => Error)('a', 'b', 'c')
    const { body } = toErrorResponse(err)
    t.ok(documented.has(body.code), `${name} -> ${body.statusCode} ${body.code}`)
    t.notMatch(body.code, /^FST_/)
  }
})

t.test('a body shorter than its Content-Length is 400 BAD_REQUEST', async t => {
  const app = await buildApp(await testConfig())
  t.teardown(() => app.close())
  const res = await app.inject({
    method: 'POST',
    url: '/data',
    headers: { ...json, 'content-length': '5000' },
    payload: JSON.stringify(datasetBody())
  })
  t.equal(res.statusCode, 400)
  t.same(Object.keys(res.json()).sort(), ['code', 'error', 'message', 'statusCode'])
  t.equal(res.json().code, 'BAD_REQUEST')
})
