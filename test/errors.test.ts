import { errorCodes } from 'fastify'
import t from 'tap'
import { buildApp } from '../src/app.ts'
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
