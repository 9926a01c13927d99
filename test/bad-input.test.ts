import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import { QueryCommand } from '@aws-sdk/lib-dynamodb'
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import t from 'tap'
import { generateApiKey } from '../src/auth/api-keys.ts'
import { MAX_SEQ } from '../src/core/limits.ts'
import { encodeCursor } from '../src/http/pagination.ts'
import { MAX_BODY_DEPTH } from '../src/plugins/app/request-text.ts'
import { buildTestApp, datasetBody, precompiledSchemaCompilers } from './helper.ts'

const key = generateApiKey('everything', ['*'])
const env = { API_KEYS: JSON.stringify([key.entry]), RATE_LIMIT_MAX: '100000' }
const headers = { 'x-api-key': key.key }
const LONE = '\ud83d'
// Through the validators and serializers the Lambda bundle ships: the rest of the tests use those compiled at start-up.
const schemaCompilers = await precompiledSchemaCompilers()

const SECURITY_HEADERS = [
  'content-security-policy',
  'strict-transport-security',
  'x-content-type-options',
  'referrer-policy'
]

t.test('a forged cursor is 400 INVALID_CURSOR on every list, never an engine error', async t => {
  const { app } = await buildTestApp(t, { schemaCompilers, env })
  const lists: Record<string, Array<Record<string, string | number>>> = {
    '/projects': [{ projectId: 1 }, { projectId: 'a#b' }, { projectId: 'p', extra: 'x' }],
    '/assets?status=pending': [
      { assetId: 'a', status: 'pending', createdKey: 1e308 },
      { assetId: 1, status: 'pending', createdKey: 'x' },
      { assetId: 'a', status: 'uploaded', createdKey: 'x' }
    ],
    '/users': [
      { pk: 'USER#1', gsi1pk: 'USERS', gsi1sk: 1 },
      { pk: 'EMAIL#a', gsi1pk: 'USERS', gsi1sk: 'x' },
      { pk: 'USER#1', gsi1pk: 'USERS', gsi1sk: LONE }
    ]
  }
  for (const [url, cursors] of Object.entries(lists)) {
    for (const cursor of cursors) {
      const res = await app.inject({
        method: 'GET',
        url: `${url}${url.includes('?') ? '&' : '?'}cursor=${encodeCursor(cursor)}`,
        headers
      })
      t.equal(res.statusCode, 400, `${url} ${JSON.stringify(cursor)}`)
      t.equal(res.json().code, 'INVALID_CURSOR')
    }
  }
})

t.test(
  'every documented id length can be written and read back; longer is refused in the documented shape',
  async t => {
    const { app } = await buildTestApp(t, { schemaCompilers, env })
    const projectId = 'p'.repeat(128)
    const entityId = 'e:@'.repeat(85) + 'e' // 256 characters, three of them percent-encoded below
    const appended = await app.inject({
      method: 'POST',
      url: `/projects/${projectId}/changes`,
      headers,
      payload: { entityType: 't'.repeat(64), entityId, operation: 'create', data: { a: 1 } }
    })
    t.equal(appended.statusCode, 201, appended.body)
    const encoded = encodeURIComponent(entityId)
    t.ok(encoded.length > 256 * 2, 'the path parameter is long once encoded')
    const entity = await app.inject({
      method: 'GET',
      url: `/projects/${projectId}/entities/${'t'.repeat(64)}/${encoded}`,
      headers
    })
    t.equal(entity.statusCode, 200, entity.body)
    t.equal(entity.json().entityId, entityId)

    const tooLong = await app.inject({
      method: 'GET',
      url: `/projects/${projectId}/entities/t/${'%41'.repeat(257)}`,
      headers
    })
    t.equal(tooLong.statusCode, 414)
    t.match(tooLong.json(), { statusCode: 414, error: 'URI Too Long', code: 'URI_TOO_LONG' })
    t.notMatch(tooLong.body, /%41|AAAA/, 'the URL is not echoed')
    t.ok(tooLong.headers['x-request-id'], 'a request id')
    for (const name of SECURITY_HEADERS) t.ok(tooLong.headers[name], name)
  }
)

t.test('a malformed percent-encoding is 400 in the documented shape, without the URL', async t => {
  const { app } = await buildTestApp(t, { schemaCompilers, env })
  const res = await app.inject({ method: 'GET', url: '/data/%zz' })
  t.equal(res.statusCode, 400)
  t.same(Object.keys(res.json()).sort(), ['code', 'error', 'message', 'statusCode'])
  t.equal(res.json().code, 'INVALID_URL')
  t.notMatch(res.body, /%zz/)
  t.ok(res.headers['x-request-id'])
  for (const name of SECURITY_HEADERS) t.ok(res.headers[name], name)
})

/** Sends raw bytes to a listening app and returns what comes back. */
async function raw(port: number, request: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request))
    const chunks: Buffer[] = []
    socket.on('data', chunk => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')))
  })
}

t.test('requests Node refuses before Fastify sees them get the documented shape', async t => {
  const { app } = await buildTestApp(t, { schemaCompilers, env })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const cases: Array<[string, string, number, string]> = [
    ['a broken request line', 'GARBAGE\r\n\r\n', 400, 'BAD_REQUEST'],
    [
      'headers over the limit',
      `GET /health HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      'HEADERS_TOO_LARGE'
    ]
  ]
  for (const [name, request, status, code] of cases) {
    const response = await raw(port, request)
    const [head = '', body = ''] = response.split('\r\n\r\n')
    t.match(head, new RegExp(`^HTTP/1.1 ${status} `), name)
    t.match(head, /\r\nx-request-id: [0-9a-f-]{36}/i, `${name}: a request id`)
    for (const header of SECURITY_HEADERS) t.match(head, new RegExp(`\r\n${header}: `, 'i'), `${name}: ${header}`)
    t.same(
      JSON.parse(body),
      {
        statusCode: status,
        error: status === 400 ? 'Bad Request' : 'Request Header Fields Too Large',
        message: JSON.parse(body).message,
        code
      },
      name
    )
  }
})

t.test('since and seq are bounded: no inverted key range reaches the engine', async t => {
  const { app } = await buildTestApp(t, { schemaCompilers, env })
  await app.inject({
    method: 'POST',
    url: '/projects/p/changes',
    headers,
    payload: { entityType: 't', entityId: 'e', operation: 'create', data: {} }
  })
  for (const url of [
    `/projects/p/changes?since=${MAX_SEQ}`,
    '/projects/p/changes?since=1e300',
    `/projects/p/changes/${MAX_SEQ + 1}`,
    '/data/00000000-0000-4000-8000-000000000000/versions/99999999999'
  ]) {
    const res = await app.inject({ method: 'GET', url, headers })
    t.equal(res.statusCode, 400, url)
    t.equal(res.json().code, 'VALIDATION_FAILED', url)
  }
  const last = await app.inject({ method: 'GET', url: `/projects/p/changes?since=${MAX_SEQ - 1}`, headers })
  t.equal(last.statusCode, 200, 'the largest since is answered')
  t.same(last.json().changes, [])
})

async function itemCount(
  clients: { dynamodb: import('@aws-sdk/client-dynamodb').DynamoDBClient },
  table: string,
  keyName: string,
  keyValue: string
): Promise<number> {
  const db = DynamoDBDocumentClient.from(clients.dynamodb)
  const { Items } = await db.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: '#k = :v',
      ExpressionAttributeNames: { '#k': keyName },
      ExpressionAttributeValues: { ':v': keyValue }
    })
  )
  return Items?.length ?? 0
}

t.test(
  'text that is not well-formed Unicode is 400 MALFORMED_UNICODE wherever it is sent, and nothing is stored',
  async t => {
    const { app, clients, config } = await buildTestApp(t, {
      schemaCompilers,
      env,
      repositories: { data: { inlinePayloadBytes: 1024 } }
    })
    const asset = await app.inject({
      method: 'POST',
      url: '/assets',
      headers,
      payload: { fileName: `photo${LONE}.png`, contentType: 'image/png', size: 10 }
    })
    t.equal(asset.statusCode, 400, asset.body)
    t.equal(asset.json().code, 'MALFORMED_UNICODE')
    t.match(asset.json().message, /body\.fileName/)
    t.same(
      (await app.inject({ method: 'GET', url: '/assets?status=pending', headers })).json().assets,
      [],
      'no asset stored'
    )

    const keyId = '9b2f8c0e-3d4a-4b6c-9f1e-2a7d5c8b1e30'
    const big = await app.inject({
      method: 'POST',
      url: '/data',
      payload: datasetBody({ keyId, payload: 'x'.repeat(2000) + LONE })
    })
    t.equal(big.statusCode, 400, 'a payload bound for S3')
    t.equal(big.json().code, 'MALFORMED_UNICODE')
    t.equal(await itemCount(clients, config.tables.data, 'keyId', keyId), 0, 'no dataset item')
    const objects = await clients.s3.send(new ListObjectsV2Command({ Bucket: config.buckets.payloads }))
    t.equal(objects.KeyCount ?? 0, 0, 'no payload object')

    const cases: Array<[string, string, unknown]> = [
      ['POST', '/users', { email: 'a@example.com', name: `Ada${LONE}` }],
      [
        'POST',
        '/projects/p/changes',
        { entityType: 't', entityId: 'e', operation: 'create', data: { [`k${LONE}`]: 1 } }
      ],
      [
        'POST',
        '/projects/p/changes',
        { entityType: 't', entityId: 'e', operation: 'create', data: { deep: [[{ v: `\udc00x` }]] } }
      ]
    ]
    for (const [method, url, payload] of cases) {
      const res = await app.inject({ method: method as 'POST', url, headers, payload: payload as object })
      t.equal(res.statusCode, 400, `${url} ${JSON.stringify(payload)}`)
      t.equal(res.json().code, 'MALFORMED_UNICODE')
    }
    t.equal(
      (await app.inject({ method: 'GET', url: '/projects/p/stats', headers })).statusCode,
      404,
      'no change stored'
    )
    t.same((await app.inject({ method: 'GET', url: '/users', headers })).json().users, [], 'no user stored')

    const paired = await app.inject({
      method: 'POST',
      url: '/users',
      headers,
      payload: { email: 'b@example.com', name: 'Ada \ud83d\ude00' }
    })
    t.equal(paired.statusCode, 201, 'a surrogate pair is text')
    t.equal(paired.json().name, 'Ada 😀')
  }
)

t.test('a deeply nested body is refused without exhausting the stack', async t => {
  const { app } = await buildTestApp(t, { schemaCompilers, env })
  const deep = '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000)
  const res = await app.inject({
    method: 'POST',
    url: '/projects/p/changes',
    headers: { ...headers, 'content-type': 'application/json' },
    payload: `{"entityType":"t","entityId":"e","operation":"create","data":${deep}}`
  })
  t.equal(res.statusCode, 400, res.body.slice(0, 200))
  t.equal(res.json().code, 'BODY_TOO_DEEP')
  const nested = (levels: number): unknown => (levels === 0 ? 1 : { a: nested(levels - 1) })
  // {changes: [{data: …}]}: the body's own three levels, then data's.
  const deepest = await app.inject({
    method: 'POST',
    url: '/projects/p/changes',
    headers,
    payload: { changes: [{ entityType: 't', entityId: 'e', operation: 'create', data: nested(MAX_BODY_DEPTH - 3) }] }
  })
  t.equal(deepest.statusCode, 201, `the deepest body allowed is stored: ${deepest.body.slice(0, 200)}`)
  const read = await app.inject({ method: 'GET', url: '/projects/p/changes/1', headers })
  t.same(read.json().data, nested(MAX_BODY_DEPTH - 3), 'and read back')
})

t.test('JSON in any charset but UTF-8 is 415', async t => {
  const { app } = await buildTestApp(t, { schemaCompilers, env })
  const postAs = async (type: string) =>
    await app.inject({
      method: 'POST',
      url: '/data',
      headers: { 'content-type': type },
      payload: JSON.stringify(datasetBody())
    })
  for (const type of [
    'application/json; charset=utf-16',
    'application/json;charset="UTF-16LE"',
    'application/json; charset=latin1'
  ]) {
    const res = await postAs(type)
    t.equal(res.statusCode, 415, type)
    t.equal(res.json().code, 'UNSUPPORTED_MEDIA_TYPE')
  }
  for (const type of ['application/json; charset=utf-8', 'application/json; charset=UTF-8', 'application/json']) {
    t.equal((await postAs(type)).statusCode, 201, type)
  }
})

t.test('the 429 message names the window, not the time left in it', async t => {
  const { app } = await buildTestApp(t, {
    schemaCompilers,
    env: { ...env, RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW_SECONDS: '60' }
  })
  await app.inject({ method: 'GET', url: '/users', headers })
  const limited = await app.inject({ method: 'GET', url: '/users', headers })
  t.equal(limited.statusCode, 429)
  t.match(limited.json().message, /^More than 1 requests in 60 seconds; retry after \d+ s$/)
})
