import { randomUUID } from 'node:crypto'
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import { QueryCommand } from '@aws-sdk/client-dynamodb'
import t from 'tap'
import { MAX_PAYLOAD_BYTES } from '../../src/core/limits.ts'
import { buildTestApp, datasetBody, type TestApp } from '../helper.ts'

const json = { 'content-type': 'application/json' }

async function create(app: TestApp['app'], body = datasetBody()) {
  const res = await app.inject({ method: 'POST', url: '/data', headers: json, payload: body })
  if (res.statusCode !== 201) throw new Error(`create failed: ${res.statusCode} ${res.body}`)
  return res.json() as { keyId: string; version: number; updatedAt: string }
}

/** PUT /data/{keyId} of a fresh body with this If-Match. */
async function putIfMatch(app: TestApp['app'], keyId: string, ifMatch: string) {
  return await app.inject({
    method: 'PUT',
    url: `/data/${keyId}`,
    headers: { ...json, 'if-match': ifMatch },
    payload: datasetBody()
  })
}

async function itemCount({ clients, config }: TestApp, keyId: string): Promise<number> {
  const { Count } = await clients.dynamodb.send(
    new QueryCommand({
      TableName: config.tables.data,
      KeyConditionExpression: 'keyId = :k',
      ExpressionAttributeValues: { ':k': { S: keyId } },
      ConsistentRead: true
    })
  )
  return Count ?? 0
}

async function objectCount({ clients, config }: TestApp, keyId: string): Promise<number> {
  const { KeyCount } = await clients.s3.send(
    new ListObjectsV2Command({ Bucket: config.buckets.payloads, Prefix: `data/${keyId}/` })
  )
  return KeyCount ?? 0
}

t.test('POST /data creates version 1 with a server-made UUID v4', async t => {
  const { app } = await buildTestApp(t)
  const body = datasetBody()
  const res = await app.inject({ method: 'POST', url: '/data', headers: json, payload: body })
  t.equal(res.statusCode, 201)
  const created = res.json()
  t.match(created.keyId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  t.equal(created.version, 1)
  t.ok(!Number.isNaN(Date.parse(created.updatedAt)) && created.updatedAt.endsWith('Z'), 'updatedAt is ISO-8601')
  t.same(Object.keys(created).sort(), ['keyId', 'updatedAt', 'version'])
  t.equal(res.headers.location, `/data/${created.keyId}`)

  const read = await app.inject({ method: 'GET', url: `/data/${created.keyId}` })
  t.equal(read.statusCode, 200)
  t.same(read.json(), {
    keyId: created.keyId,
    version: 1,
    payload: body.payload,
    meta: body.meta,
    updatedAt: created.updatedAt
  })
})

t.test('POST /data with a client keyId uses it, and a second create with it is 409', async t => {
  const { app } = await buildTestApp(t)
  const keyId = randomUUID()
  const first = await app.inject({ method: 'POST', url: '/data', headers: json, payload: datasetBody({ keyId }) })
  t.equal(first.statusCode, 201)
  t.equal(first.json().keyId, keyId)
  const again = await app.inject({
    method: 'POST',
    url: '/data',
    headers: json,
    payload: datasetBody({ keyId, payload: 'other' })
  })
  t.equal(again.statusCode, 409)
  t.equal(again.json().code, 'DATASET_EXISTS')
  t.equal((await app.inject({ method: 'GET', url: `/data/${keyId}` })).json().version, 1, 'the original is untouched')
  t.not((await app.inject({ method: 'GET', url: `/data/${keyId}` })).json().payload, 'other')
})

t.test('invalid input is 400 naming the field, and nothing is stored', async t => {
  const ctx = await buildTestApp(t)
  const { app } = ctx
  const keyId = randomUUID()
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['enc', datasetBody({ keyId }, { enc: 'AES-CBC' }), 'enc'],
    ['kdf', datasetBody({ keyId }, { kdf: 'scrypt' }), 'kdf'],
    ['iterations too low', datasetBody({ keyId }, { iterations: 99999 }), 'iterations'],
    ['iterations too high', datasetBody({ keyId }, { iterations: 10_000_001 }), 'iterations'],
    ['iterations not an integer', datasetBody({ keyId }, { iterations: 250000.5 }), 'iterations'],
    ['iterations as a string', datasetBody({ keyId }, { iterations: '250000' }), 'iterations'],
    ['salt empty', datasetBody({ keyId }, { salt: '' }), 'salt'],
    ['salt not base64', datasetBody({ keyId }, { salt: 'not base64!' }), 'salt'],
    ['salt base64url', datasetBody({ keyId }, { salt: 'c2Fsd-_x' }), 'salt'],
    ['iv not 12 bytes', datasetBody({ keyId }, { iv: 'AAECAwQFBgcICQoLDA==' }), 'iv'],
    ['iv empty', datasetBody({ keyId }, { iv: '' }), 'iv'],
    ['schemaVersion zero', datasetBody({ keyId }, { schemaVersion: 0 }), 'schemaVersion'],
    [
      'schemaVersion missing',
      (() => {
        const b = datasetBody({ keyId })
        delete (b.meta as Record<string, unknown>).schemaVersion
        return b
      })(),
      'schemaVersion'
    ],
    ['unknown meta field', datasetBody({ keyId }, { extra: 1 }), 'meta'],
    ['payload empty', datasetBody({ keyId, payload: '' }), 'payload'],
    ['payload not a string', datasetBody({ keyId, payload: { a: 1 } }), 'payload'],
    ['payload missing', { keyId, meta: datasetBody().meta }, 'payload'],
    ['meta missing', { keyId, payload: 'x' }, 'meta'],
    ['unknown body field', datasetBody({ keyId, owner: 'me' }), 'body'],
    ['keyId not a UUID', datasetBody({ keyId: 'not-a-uuid' }), 'keyId']
  ]
  for (const [name, body, field] of cases) {
    const res = await app.inject({ method: 'POST', url: '/data', headers: json, payload: body })
    t.equal(res.statusCode, 400, `${name}: 400`)
    t.equal(res.json().code, 'VALIDATION_FAILED', `${name}: code`)
    t.match(res.json().message, field, `${name}: message names ${field}`)
  }
  t.equal(await itemCount(ctx, keyId), 0, 'nothing was stored')

  const created = await create(app)
  const put = await app.inject({
    method: 'PUT',
    url: `/data/${created.keyId}`,
    headers: json,
    payload: datasetBody({}, { iv: 'short' })
  })
  t.equal(put.statusCode, 400)
  t.equal(
    (await app.inject({ method: 'GET', url: `/data/${created.keyId}` })).json().version,
    1,
    'a rejected PUT writes nothing'
  )
})

t.test('malformed JSON is 400, a non-JSON body is 415', async t => {
  const { app } = await buildTestApp(t)
  const bad = await app.inject({ method: 'POST', url: '/data', headers: json, payload: '{"payload": ' })
  t.equal(bad.statusCode, 400)
  t.same(Object.keys(bad.json()).sort(), ['code', 'error', 'message', 'statusCode'])
  t.equal(bad.json().code, 'INVALID_JSON')
  const text = await app.inject({
    method: 'POST',
    url: '/data',
    headers: { 'content-type': 'text/plain' },
    payload: 'hello'
  })
  t.equal(text.statusCode, 415)
})

t.test('GET, PUT and DELETE of an unknown dataset are 404', async t => {
  const { app } = await buildTestApp(t)
  const keyId = randomUUID()
  for (const [method, url] of [
    ['GET', `/data/${keyId}`],
    ['DELETE', `/data/${keyId}`],
    ['GET', `/data/${keyId}/versions`],
    ['GET', `/data/${keyId}/versions/1`]
  ] as const) {
    const res = await app.inject({ method, url })
    t.equal(res.statusCode, 404, `${method} ${url}`)
  }
  const put = await app.inject({ method: 'PUT', url: `/data/${keyId}`, headers: json, payload: datasetBody() })
  t.equal(put.statusCode, 404)
  t.equal(put.json().code, 'DATASET_NOT_FOUND')
  t.equal((await app.inject({ method: 'GET', url: `/data/${keyId}` })).statusCode, 404, 'PUT does not create')
})

t.test('PUT /data/{keyId} writes version + 1 and the new content', async t => {
  const { app } = await buildTestApp(t)
  const created = await create(app)
  const next = datasetBody({}, { schemaVersion: 8 })
  const put = await app.inject({ method: 'PUT', url: `/data/${created.keyId}`, headers: json, payload: next })
  t.equal(put.statusCode, 200)
  t.same(Object.keys(put.json()).sort(), ['keyId', 'updatedAt', 'version'])
  t.equal(put.json().version, 2)
  t.equal(put.headers.etag, '"2"')
  const read = (await app.inject({ method: 'GET', url: `/data/${created.keyId}` })).json()
  t.equal(read.version, 2)
  t.equal(read.payload, next.payload)
  t.equal(read.meta.schemaVersion, 8)
})

t.test('ETag and If-None-Match', async t => {
  const { app } = await buildTestApp(t)
  const { keyId } = await create(app)
  const first = await app.inject({ method: 'GET', url: `/data/${keyId}` })
  t.equal(first.headers.etag, '"1"')
  const cached = await app.inject({ method: 'GET', url: `/data/${keyId}`, headers: { 'if-none-match': '"1"' } })
  t.equal(cached.statusCode, 304)
  t.equal(cached.body, '')
  const weak = await app.inject({ method: 'GET', url: `/data/${keyId}`, headers: { 'if-none-match': 'W/"1"' } })
  t.equal(weak.statusCode, 304, 'If-None-Match compares weakly')
  await app.inject({ method: 'PUT', url: `/data/${keyId}`, headers: json, payload: datasetBody() })
  const stale = await app.inject({ method: 'GET', url: `/data/${keyId}`, headers: { 'if-none-match': '"1"' } })
  t.equal(stale.statusCode, 200, 'a stale ETag gets the new version')
  t.equal(stale.headers.etag, '"2"')
})

t.test('If-Match: a stale version is 412 and writes nothing; the current one writes', async t => {
  const { app } = await buildTestApp(t)
  const { keyId } = await create(app)
  await app.inject({ method: 'PUT', url: `/data/${keyId}`, headers: json, payload: datasetBody() })
  const before = (await app.inject({ method: 'GET', url: `/data/${keyId}` })).json()

  const stale = await putIfMatch(app, keyId, '"1"')
  t.equal(stale.statusCode, 412)
  t.equal(stale.json().code, 'VERSION_MISMATCH')
  const garbage = await putIfMatch(app, keyId, 'nonsense')
  t.equal(garbage.statusCode, 412, 'an If-Match naming no version matches none')
  const weak = await putIfMatch(app, keyId, 'W/"2"')
  t.equal(weak.statusCode, 412, 'If-Match compares strongly: a weak ETag of the current version does not match')
  t.same((await app.inject({ method: 'GET', url: `/data/${keyId}` })).json(), before, 'nothing written')
  t.same(
    (await app.inject({ method: 'GET', url: `/data/${keyId}/versions` }))
      .json()
      .versions.map((v: { version: number }) => v.version),
    [2, 1]
  )

  const current = await putIfMatch(app, keyId, '"2"')
  t.equal(current.statusCode, 200)
  t.equal(current.json().version, 3)
  const star = await putIfMatch(app, keyId, '*')
  t.equal(star.statusCode, 200)
  t.equal(star.json().version, 4)
  const missing = await putIfMatch(app, randomUUID(), '*')
  t.equal(missing.statusCode, 404)
})

t.test('of 20 concurrent PUTs with the same If-Match exactly one lands', async t => {
  const { app } = await buildTestApp(t)
  const { keyId } = await create(app)
  const bodies = Array.from({ length: 20 }, () => datasetBody())
  const results = await Promise.all(
    bodies.map(body =>
      app.inject({ method: 'PUT', url: `/data/${keyId}`, headers: { ...json, 'if-match': '"1"' }, payload: body })
    )
  )
  const statuses = results.map(r => r.statusCode)
  t.equal(statuses.filter(s => s === 200).length, 1, 'one 200')
  t.equal(statuses.filter(s => s === 412).length, 19, 'nineteen 412')
  const winner = bodies[statuses.indexOf(200)]!
  const read = (await app.inject({ method: 'GET', url: `/data/${keyId}` })).json()
  t.equal(read.version, 2)
  t.equal(read.payload, winner.payload, "the stored payload is the winner's")
  const versions = (await app.inject({ method: 'GET', url: `/data/${keyId}/versions` })).json().versions
  t.same(
    versions.map((v: { version: number }) => v.version),
    [2, 1]
  )
})

t.test('20 concurrent PUTs without If-Match all land, each on its own version', async t => {
  const { app } = await buildTestApp(t)
  const { keyId } = await create(app)
  const results = await Promise.all(
    Array.from({ length: 20 }, () =>
      app.inject({ method: 'PUT', url: `/data/${keyId}`, headers: json, payload: datasetBody() })
    )
  )
  t.same(
    results.map(r => r.statusCode),
    Array(20).fill(200)
  )
  const versions = results.map(r => r.json().version as number).sort((a, b) => a - b)
  t.same(
    versions,
    Array.from({ length: 20 }, (_, i) => i + 2),
    'versions 2..21, none lost or repeated'
  )
  t.equal((await app.inject({ method: 'GET', url: `/data/${keyId}` })).json().version, 21)
})

t.test('the last 10 versions stay readable, newest first', async t => {
  const ctx = await buildTestApp(t)
  const { app } = ctx
  const bodies = [datasetBody()]
  const { keyId } = await create(app, bodies[0])
  for (let i = 2; i <= 12; i++) {
    const body = datasetBody({}, { schemaVersion: i })
    bodies.push(body)
    t.equal((await app.inject({ method: 'PUT', url: `/data/${keyId}`, headers: json, payload: body })).statusCode, 200)
  }
  const list = await app.inject({ method: 'GET', url: `/data/${keyId}/versions` })
  t.equal(list.statusCode, 200)
  const versions = list.json().versions as Array<{ version: number; updatedAt: string }>
  t.same(
    versions.map(v => v.version),
    [12, 11, 10, 9, 8, 7, 6, 5, 4, 3]
  )
  t.ok(
    versions.every((v, i) => i === 0 || v.updatedAt <= versions[i - 1]!.updatedAt),
    'newest first'
  )

  for (const version of [3, 7, 12]) {
    const res = await app.inject({ method: 'GET', url: `/data/${keyId}/versions/${version}` })
    t.equal(res.statusCode, 200, `version ${version} readable`)
    t.equal(res.json().version, version)
    t.equal(res.json().payload, bodies[version - 1]!.payload, `version ${version} has its own payload`)
    t.equal(res.json().meta.schemaVersion, version === 1 ? 7 : version)
    t.equal(res.headers.etag, `"${version}"`)
  }
  for (const version of [1, 2, 13]) {
    const res = await app.inject({ method: 'GET', url: `/data/${keyId}/versions/${version}` })
    t.equal(res.statusCode, 404, `version ${version} not readable`)
    t.equal(res.json().code, 'VERSION_NOT_FOUND')
  }
  t.equal((await app.inject({ method: 'GET', url: `/data/${keyId}/versions/0` })).statusCode, 400)
  t.equal(await itemCount(ctx, keyId), 10, 'HEAD and nine history items: older ones were pruned')
})

t.test('DELETE removes the dataset and every version', async t => {
  const ctx = await buildTestApp(t)
  const { app } = ctx
  const { keyId } = await create(app)
  await app.inject({ method: 'PUT', url: `/data/${keyId}`, headers: json, payload: datasetBody() })
  const del = await app.inject({ method: 'DELETE', url: `/data/${keyId}` })
  t.equal(del.statusCode, 200)
  t.same(del.json(), { message: 'Dataset deleted successfully', keyId })
  t.equal((await app.inject({ method: 'GET', url: `/data/${keyId}` })).statusCode, 404)
  t.equal((await app.inject({ method: 'GET', url: `/data/${keyId}/versions/1` })).statusCode, 404)
  t.equal(await itemCount(ctx, keyId), 0, 'no item left')
  t.equal((await app.inject({ method: 'DELETE', url: `/data/${keyId}` })).statusCode, 404, 'a second delete is 404')

  const recreated = await app.inject({ method: 'POST', url: '/data', headers: json, payload: datasetBody({ keyId }) })
  t.equal(recreated.statusCode, 201, 'the keyId can be created again')
  t.same(
    (await app.inject({ method: 'GET', url: `/data/${keyId}/versions` }))
      .json()
      .versions.map((v: { version: number }) => v.version),
    [1]
  )
})

t.test('payloads too large for an item live in S3, transparently', async t => {
  const ctx = await buildTestApp(t, { repositories: { data: { inlinePayloadBytes: 1024 } } })
  const { app } = ctx
  const big = datasetBody({ payload: 'é'.repeat(4000) })
  const { keyId } = await create(app, big)
  t.equal(await objectCount(ctx, keyId), 1, 'the payload went to S3')
  const read = await app.inject({ method: 'GET', url: `/data/${keyId}` })
  t.equal(read.json().payload, big.payload, 'GET returns it byte for byte')

  const small = datasetBody({ payload: 'small' })
  await app.inject({ method: 'PUT', url: `/data/${keyId}`, headers: json, payload: small })
  t.equal((await app.inject({ method: 'GET', url: `/data/${keyId}` })).json().payload, 'small')
  t.equal(
    (await app.inject({ method: 'GET', url: `/data/${keyId}/versions/1` })).json().payload,
    big.payload,
    'the old version still reads from S3'
  )

  await app.inject({ method: 'DELETE', url: `/data/${keyId}` })
  t.equal(await objectCount(ctx, keyId), 0, 'DELETE removed the S3 object')
})

t.test('losing writers leave no S3 object behind', async t => {
  const ctx = await buildTestApp(t, { repositories: { data: { inlinePayloadBytes: 16 } } })
  const { app } = ctx
  const { keyId } = await create(app, datasetBody({ payload: 'x'.repeat(100) }))
  const results = await Promise.all(
    Array.from({ length: 8 }, () =>
      app.inject({
        method: 'PUT',
        url: `/data/${keyId}`,
        headers: { ...json, 'if-match': '"1"' },
        payload: datasetBody({ payload: 'y'.repeat(100) })
      })
    )
  )
  t.equal(results.filter(r => r.statusCode === 200).length, 1)
  t.equal(await objectCount(ctx, keyId), 2, 'version 1 and the winner of version 2, nothing else')
})

t.test('a 5 MiB payload is accepted; a larger one is 413 with nothing stored', async t => {
  const ctx = await buildTestApp(t)
  const { app } = ctx
  const max = datasetBody({ payload: 'a'.repeat(MAX_PAYLOAD_BYTES) })
  const created = await app.inject({ method: 'POST', url: '/data', headers: json, payload: max })
  t.equal(created.statusCode, 201)
  const read = await app.inject({ method: 'GET', url: `/data/${created.json().keyId}` })
  t.equal(read.json().payload.length, MAX_PAYLOAD_BYTES)

  const keyId = randomUUID()
  const over = await app.inject({
    method: 'POST',
    url: '/data',
    headers: json,
    payload: datasetBody({ keyId, payload: 'a'.repeat(MAX_PAYLOAD_BYTES + 1) })
  })
  t.equal(over.statusCode, 413)
  t.equal(over.json().code, 'PAYLOAD_TOO_LARGE')
  // Multi-byte characters count as bytes, not characters.
  const wide = await app.inject({
    method: 'POST',
    url: '/data',
    headers: json,
    payload: datasetBody({ keyId, payload: 'é'.repeat(MAX_PAYLOAD_BYTES / 2 + 1) })
  })
  t.equal(wide.statusCode, 413)
  const huge = await app.inject({
    method: 'POST',
    url: '/data',
    headers: json,
    payload: datasetBody({ keyId, payload: 'a'.repeat(8 * 1024 * 1024) })
  })
  t.equal(huge.statusCode, 413)
  t.equal(huge.json().code, 'BODY_TOO_LARGE')
  t.equal(await itemCount(ctx, keyId), 0)
  t.equal(await objectCount(ctx, keyId), 0)

  const put = await app.inject({
    method: 'PUT',
    url: `/data/${created.json().keyId}`,
    headers: json,
    payload: datasetBody({ payload: 'a'.repeat(MAX_PAYLOAD_BYTES + 1) })
  })
  t.equal(put.statusCode, 413)
  t.equal((await app.inject({ method: 'GET', url: `/data/${created.json().keyId}` })).json().version, 1)
})

t.test('CORS allows the configured origins and exposes ETag', async t => {
  const { app } = await buildTestApp(t, { env: { ALLOWED_ORIGINS: 'https://app.example' } })
  const { keyId } = await create(app)
  const allowed = await app.inject({ method: 'GET', url: `/data/${keyId}`, headers: { origin: 'https://app.example' } })
  t.equal(allowed.headers['access-control-allow-origin'], 'https://app.example')
  t.match(String(allowed.headers['access-control-expose-headers']), /ETag/)
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: `/data/${keyId}`,
    headers: {
      origin: 'https://app.example',
      'access-control-request-method': 'PUT',
      'access-control-request-headers': 'if-match,content-type'
    }
  })
  t.equal(preflight.statusCode, 204)
  t.match(String(preflight.headers['access-control-allow-methods']), /PUT/)
  const other = await app.inject({ method: 'GET', url: `/data/${keyId}`, headers: { origin: 'https://evil.example' } })
  t.not(other.headers['access-control-allow-origin'], 'https://evil.example')
})
