import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import t from 'tap'
import { GetItemCommand, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb'
import { unmarshall } from '@aws-sdk/util-dynamodb'
import { generateApiKey } from '../src/auth/api-keys.ts'
import { buildApp } from '../src/app.ts'
import { createAwsClients, destroyAwsClients } from '../src/aws/clients.ts'
import { loadConfig } from '../src/config/config.ts'
import { createLambdaHandler } from '../src/entries/lambda-handler.ts'
import { buckets, tables, type BucketNames as Buckets, type TableNames as Tables } from '../src/core/tables.ts'
import { datasetBody, testConfig } from './helper.ts'
import {
  dynamodbStreamEvent,
  httpApiEvent,
  lambdaContext as contextOf,
  restApiEvent,
  s3Event
} from '../scripts/lib/lambda-events.mjs'

interface LambdaResult {
  statusCode: number
  headers: Record<string, string>
  body: string
  isBase64Encoded?: boolean
}

const assetsKey = generateApiKey('assets', ['assets:read', 'assets:write'])
const projectsKey = generateApiKey('projects', ['projects:*:*'])

// The handler reads its configuration from the environment when its module loads, as on Lambda.
const config = await testConfig()
Object.assign(process.env, {
  NODE_ENV: 'production',
  LOG_LEVEL: 'silent',
  AWS_REGION: config.region,
  AWS_ENDPOINT_URL_DYNAMODB: config.endpoints.dynamodb,
  AWS_ENDPOINT_URL_S3: config.endpoints.s3,
  // Every table and bucket, as the template hands them to the function.
  ...Object.fromEntries(Object.entries(tables).map(([key, def]) => [def.envVar, config.tables[key as keyof Tables]])),
  ...Object.fromEntries(
    Object.entries(buckets).map(([key, def]) => [def.envVar, config.buckets[key as keyof Buckets]])
  ),
  API_KEYS: JSON.stringify([assetsKey.entry, projectsKey.entry]),
  ALLOWED_ORIGINS: 'https://app.example'
})
// What src/entries/lambda.ts does at init, with an app this file can close.
const app = await buildApp(loadConfig(process.env, 'lambda'))
const handler = await createLambdaHandler(app, loadConfig(process.env, 'lambda'))
t.teardown(() => app.close())
const lambdaContext = contextOf()
const invoke = async (event: unknown): Promise<LambdaResult> => (await handler(event, lambdaContext)) as LambdaResult

const json = { 'content-type': 'application/json' }

for (const [format, makeEvent] of [
  ['HTTP API 2.0', httpApiEvent],
  ['REST API 1.0', restApiEvent]
] as const) {
  t.test(`${format}: create, read, 404 and 400`, async t => {
    const body = datasetBody()
    const created = await invoke(
      makeEvent({ method: 'POST', path: '/data', headers: json, body: JSON.stringify(body) })
    )
    t.equal(created.statusCode, 201)
    const { keyId, version } = JSON.parse(created.body)
    t.equal(version, 1)
    t.equal(created.headers.location, `/data/${keyId}`)

    const read = await invoke(makeEvent({ method: 'GET', path: `/data/${keyId}` }))
    t.equal(read.statusCode, 200)
    t.equal(read.headers.etag, '"1"')
    t.equal(read.isBase64Encoded, false, 'JSON goes back as text')
    t.same(JSON.parse(read.body).payload, body.payload)

    const missing = await invoke(makeEvent({ method: 'GET', path: '/data/6f1c1d5e-8f0a-4b43-9d8e-0c5b2a7e9f11' }))
    t.equal(missing.statusCode, 404)
    t.equal(JSON.parse(missing.body).code, 'DATASET_NOT_FOUND')

    const invalid = await invoke(
      makeEvent({
        method: 'POST',
        path: '/data',
        headers: json,
        body: JSON.stringify(datasetBody({}, { enc: 'none' }))
      })
    )
    t.equal(invalid.statusCode, 400)
    t.match(JSON.parse(invalid.body), { code: 'VALIDATION_FAILED', message: /enc/ })

    const health = await invoke(makeEvent({ method: 'GET', path: '/health', query: { deep: '1' } }))
    t.equal(health.statusCode, 200)
    t.match(JSON.parse(health.body).checks, { dynamodb: 'ok', s3: 'ok' }, 'the query string reaches the route')
  })

  t.test(`${format}: a base64-encoded request body round-trips byte for byte`, async t => {
    // API Gateway base64-encodes bodies it treats as binary; multi-byte text must survive the decoding.
    const body = datasetBody({ payload: 'ünïcødé ✓ 🔐 ' + '\u0000\u0001'.repeat(3) })
    const created = await invoke(
      makeEvent({
        method: 'POST',
        path: '/data',
        headers: json,
        body: Buffer.from(JSON.stringify(body), 'utf8').toString('base64'),
        isBase64Encoded: true
      })
    )
    t.equal(created.statusCode, 201)
    const read = await invoke(makeEvent({ method: 'GET', path: `/data/${JSON.parse(created.body).keyId}` }))
    t.equal(JSON.parse(read.body).payload, body.payload)
  })

  t.test(`${format}: a binary response goes back base64-encoded`, async t => {
    const res = await invoke(makeEvent({ method: 'GET', path: '/docs/static/favicon-32x32.png' }))
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-type'], 'image/png')
    t.equal(res.isBase64Encoded, true)
    const require = createRequire(import.meta.url)
    const staticDir = join(dirname(require.resolve('@fastify/swagger-ui')), 'static')
    t.ok(
      Buffer.from(res.body, 'base64').equals(await readFile(join(staticDir, 'favicon-32x32.png'))),
      'same bytes as the file'
    )
  })

  t.test(`${format}: the HTTP edges answer as over a socket`, async t => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      invoke(makeEvent({ method: 'POST', path: '/data', headers: { ...json, ...headers }, body }))
    const { keyId } = JSON.parse((await post(JSON.stringify(datasetBody()))).body)
    const answers: Array<[string, LambdaResult, number, string]> = [
      [
        'over the body limit',
        await post(JSON.stringify(datasetBody({ payload: 'x'.repeat(6.5 * 1024 * 1024) }))),
        413,
        'BODY_TOO_LARGE'
      ],
      [
        'a Content-Encoding',
        await post(JSON.stringify(datasetBody()), { 'content-encoding': 'gzip' }),
        415,
        'UNSUPPORTED_CONTENT_ENCODING'
      ],
      [
        'a non-finite number',
        await post(JSON.stringify(datasetBody()).replace(/"iterations":\d+/, '"iterations":1e309')),
        400,
        'INVALID_NUMBER'
      ],
      [
        'an upper-case UUID of an existing dataset',
        await post(JSON.stringify({ ...datasetBody(), keyId: keyId.toUpperCase() })),
        409,
        'DATASET_EXISTS'
      ],
      [
        'a version in hexadecimal',
        await invoke(makeEvent({ method: 'GET', path: `/data/${keyId}/versions/0x1` })),
        400,
        'VALIDATION_FAILED'
      ]
    ]
    for (const [name, res, status, code] of answers) {
      t.equal(res.statusCode, status, name)
      t.equal(JSON.parse(res.body).code, code, name)
    }
    const upper = await invoke(makeEvent({ method: 'GET', path: `/data/${keyId.toUpperCase()}` }))
    t.equal(JSON.parse(upper.body).keyId, keyId, 'the upper-case id reads the dataset')
  })

  t.test(`${format}: the request id is API Gateway's, not the client's`, async t => {
    const event = makeEvent({ method: 'GET', path: '/health', headers: { 'X-Request-Id': 'chosen-by-client' } })
    const res = await invoke(event)
    t.equal(res.headers['x-request-id'], event.requestContext.requestId)
  })
}

t.test('HTTP API 2.0 on a named stage: the stage prefix in rawPath is not part of the route', async t => {
  const event = httpApiEvent({ method: 'GET', path: '/dev/health' })
  event.requestContext.stage = 'dev'
  event.routeKey = 'ANY /{proxy+}'
  const res = await invoke(event)
  t.equal(res.statusCode, 200)
  t.equal(JSON.parse(res.body).status, 'ok')
  const root = httpApiEvent({ method: 'GET', path: '/dev' })
  root.requestContext.stage = 'dev'
  t.equal((await invoke(root)).statusCode, 404, '/dev alone is the API root, which serves nothing')
})

t.test('HTTP API 2.0: CORS headers for a configured origin', async t => {
  const res = await invoke(httpApiEvent({ method: 'GET', path: '/health', headers: { origin: 'https://app.example' } }))
  t.equal(res.headers['access-control-allow-origin'], 'https://app.example')
  t.match(res.headers['access-control-expose-headers'], /ETag/)
})

t.test('an event that is not from API Gateway is refused, not served', async t => {
  await t.rejects(
    handler({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }, lambdaContext),
    /Unsupported event/
  )
})

t.test('an S3 ObjectCreated notification marks the asset uploaded, with no GET polling', async t => {
  const headers = { 'content-type': 'application/json', 'x-api-key': assetsKey.key }
  const created = await invoke(
    httpApiEvent({
      method: 'POST',
      path: '/assets',
      headers,
      body: JSON.stringify({ fileName: 'photo of me.png', contentType: 'image/png', size: 4 })
    })
  )
  t.equal(created.statusCode, 201)
  const asset = JSON.parse(created.body)
  const put = await fetch(asset.upload.url, { method: 'PUT', body: 'abcd', headers: asset.upload.headers })
  t.equal(put.status, 200)

  const clients = createAwsClients(config)
  t.teardown(() => destroyAwsClients(clients))
  const stored = async () =>
    (
      await clients.dynamodb.send(
        new GetItemCommand({
          TableName: config.tables.assets,
          Key: { assetId: { S: asset.assetId } },
          ConsistentRead: true
        })
      )
    ).Item?.status?.S
  t.equal(await stored(), 'pending', 'nothing has looked at the object yet')

  const result = await handler(
    s3Event({ bucket: config.buckets.assets, key: asset.s3Key, size: 4, eTag: 'e2fc714c4727ee9395f324cd2e7f331f' }),
    lambdaContext
  )
  t.same(result, { assets: [{ key: asset.s3Key, status: 'uploaded' }] })
  t.equal(await stored(), 'uploaded', 'the notification recorded it')

  const other = await handler(
    s3Event({ bucket: 'someone-elses-bucket', key: asset.s3Key, size: 4, eTag: 'x' }),
    lambdaContext
  )
  t.same(other, { assets: [] }, 'a notification from another bucket is ignored')
})

t.test('DynamoDB stream records of the projects table bring the projection up, exactly once', async t => {
  const headers = { 'content-type': 'application/json', 'x-api-key': projectsKey.key }
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await invoke(
      httpApiEvent({ method, path, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    )
    return { statusCode: res.statusCode, json: JSON.parse(res.body) }
  }
  const doc = (operation: string, changeId: string) => ({
    entityType: 'document',
    entityId: 'a',
    operation,
    ...(operation === 'delete' ? {} : { data: { title: changeId } }),
    changeId
  })
  t.equal((await call('POST', '/projects/streamed/changes', doc('create', 's-1'))).statusCode, 201)
  t.equal(
    (await call('POST', '/projects/streamed/changes', { changes: [doc('update', 's-2'), doc('delete', 's-3')] }))
      .statusCode,
    201
  )

  const clients = createAwsClients(config)
  t.teardown(() => destroyAwsClients(clients))
  const table = config.tables.projects
  const partition = async () =>
    (
      await clients.dynamodb.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: 'P#streamed' } },
          ConsistentRead: true
        })
      )
    ).Items!.map(item => unmarshall(item))
  const projectedSeq = async () => (await partition()).find(item => item.sk === 'META')?.projectedSeq
  t.equal(await projectedSeq(), 0, 'on Lambda an append leaves the projection to the stream')

  // What the stream would carry: every item the appends wrote, META and receipts included.
  const written = await partition()
  t.ok(written.filter(item => item.sk.startsWith('L#')).length === 2, 'two batches were written')
  const event = dynamodbStreamEvent({ table, items: written })
  t.same(await handler(event, lambdaContext), { projects: [{ projectId: 'streamed', projectedSeq: 3 }] })
  t.equal(await projectedSeq(), 3)
  t.match((await call('GET', '/projects/streamed/stats')).json, {
    totalChanges: 3,
    latestSeq: 3,
    byOperation: { create: 1, update: 1, delete: 1 },
    outdatedChanges: 2
  })
  t.equal((await call('GET', '/projects/streamed/changes/1')).json.outdatedBy, 2)

  t.same(
    await handler(event, lambdaContext),
    { projects: [{ projectId: 'streamed', projectedSeq: 3 }] },
    'the same records again (Lambda delivers at least once)'
  )
  t.equal((await call('GET', '/projects/streamed/stats')).json.totalChanges, 3, 'nothing counted twice')
  t.same(
    await handler(dynamodbStreamEvent({ table, items: written, eventName: 'MODIFY' }), lambdaContext),
    { projects: [] },
    'updates are not batches landing'
  )
  t.same(
    await handler(dynamodbStreamEvent({ table: 'another-table', items: written }), lambdaContext),
    { projects: [] },
    "another table's records are not this feed's"
  )

  // A projector elsewhere holds the lease and does not let go: the records fail, to be retried.
  await clients.dynamodb.send(
    new UpdateItemCommand({
      TableName: table,
      Key: { pk: { S: 'P#streamed' }, sk: { S: 'META' } },
      UpdateExpression: 'SET leaseUntil = :later, leaseOwner = :other',
      ExpressionAttributeValues: { ':later': { N: String(Date.now() + 60_000) }, ':other': { S: 'elsewhere' } }
    })
  )
  t.equal((await call('POST', '/projects/streamed/changes', doc('create', 's-4'))).statusCode, 201)
  const fourth = (await partition()).filter(item => item.sk === 'L#000000000000004')
  const shortContext = contextOf({ timeoutMs: 6000 })
  await t.rejects(handler(dynamodbStreamEvent({ table, items: fourth }), shortContext), /behind/)
  await clients.dynamodb.send(
    new UpdateItemCommand({
      TableName: table,
      Key: { pk: { S: 'P#streamed' }, sk: { S: 'META' } },
      UpdateExpression: 'SET leaseUntil = :zero',
      ExpressionAttributeValues: { ':zero': { N: '0' } }
    })
  )
  t.same(
    await handler(dynamodbStreamEvent({ table, items: fourth }), shortContext),
    { projects: [{ projectId: 'streamed', projectedSeq: 4 }] },
    'the retry, once the lease has lapsed'
  )
  t.equal((await call('GET', '/projects/streamed/stats')).json.totalChanges, 4)
})
