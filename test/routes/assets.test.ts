import { createHash, randomBytes } from 'node:crypto'
import { HeadObjectCommand } from '@aws-sdk/client-s3'
import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb'
import t from 'tap'
import { generateApiKey } from '../../src/auth/api-keys.ts'
import { safeFileName } from '../../src/repositories/assets/items.ts'
import { motoAvailable, startMoto } from '../fixtures/moto.ts'
import { buildTestApp, injectAs, type TestApp } from '../helper.ts'

const key = generateApiKey('assets', ['assets:read', 'assets:write'])
const baseEnv = { API_KEYS: JSON.stringify([key.entry]), RATE_LIMIT_MAX: '100000' }
const headers = { 'x-api-key': key.key }
const MIB = 1024 * 1024

type App = TestApp['app']

async function create(app: App, body: Record<string, unknown>) {
  const res = await injectAs(app, key.key).post('/assets', body)
  if (res.statusCode !== 201) throw new Error(`create: ${res.statusCode} ${res.body}`)
  return res.json()
}
const get = (app: App, url: string) => injectAs(app, key.key).get(url)

/** PUT the bytes to a presigned URL as a browser's fetch would. */
async function upload(upload: { url: string; headers: Record<string, string> }, body: Buffer, contentType?: string) {
  const res = await fetch(upload.url, {
    method: 'PUT',
    body: new Uint8Array(body),
    headers: { ...upload.headers, ...(contentType ? { 'content-type': contentType } : {}) }
  })
  return res.status
}

async function objectExists({ clients, config }: TestApp, s3Key: string): Promise<boolean> {
  try {
    await clients.s3.send(new HeadObjectCommand({ Bucket: config.buckets.assets, Key: s3Key }))
    return true
  } catch {
    return false
  }
}

// The embedded pass checks its own S3 and moto's; the emulator pass's engine already is moto.
const engines: Array<[string, () => Promise<NodeJS.ProcessEnv>]> = [["the test engine's S3", async () => ({})]]
if (!process.env.AWS_ENDPOINT_URL_S3 && motoAvailable()) {
  let moto: Promise<string> | undefined
  engines.push(['moto', async () => ({ AWS_ENDPOINT_URL_S3: await (moto ??= startMoto(t)) })])
}

for (const [engine, envOf] of engines) {
  t.test(
    `${engine}: create, upload with the presigned URL, GET flips to uploaded, download returns the bytes`,
    async t => {
      const test = await buildTestApp(t, { env: { ...baseEnv, ...(await envOf()) } })
      const { app } = test
      const bytes = randomBytes(2048)
      const created = await create(app, {
        fileName: 'report 2026.pdf',
        contentType: 'application/pdf',
        size: bytes.length
      })
      t.match(created, {
        fileName: 'report 2026.pdf',
        contentType: 'application/pdf',
        size: 2048,
        status: 'pending',
        upload: { method: 'PUT', headers: { 'content-type': 'application/pdf' } }
      })
      t.equal(created.s3Key, `assets/${created.assetId}/report 2026.pdf`)
      t.ok(created.expiresAt > Date.now() + 29 * 24 * 3600 * 1000, 'metadata lives 30 days')
      t.ok(
        created.upload.expiresAt > Date.now() && created.upload.expiresAt <= Date.now() + 3600 * 1000,
        'URL lives PRESIGN_TTL_SECONDS'
      )

      const early = await get(app, `/assets/${created.assetId}/download`)
      t.equal(early.statusCode, 409, 'no download while pending')
      t.equal(early.json().code, 'ASSET_NOT_UPLOADED')
      t.equal(
        (await get(app, `/assets/${created.assetId}`)).json().status,
        'pending',
        'still pending before the bytes arrive'
      )

      t.equal(await upload(created.upload, bytes), 200)
      const after = (await get(app, `/assets/${created.assetId}`)).json()
      t.match(after, { status: 'uploaded', size: 2048, etag: createHash('md5').update(bytes).digest('hex') })
      t.ok(after.uploadedAt >= created.createdAt)

      const download = await get(app, `/assets/${created.assetId}/download`)
      t.equal(download.statusCode, 200)
      const fetched = await fetch(download.json().url)
      t.equal(fetched.status, 200)
      t.ok(Buffer.from(await fetched.arrayBuffer()).equals(bytes), 'the same bytes come back')
      const redirect = await get(app, `/assets/${created.assetId}/download?redirect=1`)
      t.equal(redirect.statusCode, 302)
      t.match(redirect.headers.location, new RegExp(`/assets/${created.assetId}/report%20`))

      const deleted = await app.inject({ method: 'DELETE', url: `/assets/${created.assetId}`, headers })
      t.equal(deleted.statusCode, 204)
      t.equal(await objectExists(test, created.s3Key), false, 'the object is gone')
      t.equal((await get(app, `/assets/${created.assetId}`)).statusCode, 404, 'and the metadata')
      t.equal((await app.inject({ method: 'DELETE', url: `/assets/${created.assetId}`, headers })).statusCode, 404)
    }
  )

  t.test(`${engine}: an upload larger than declared or of another type ends rejected, its object deleted`, async t => {
    const test = await buildTestApp(t, { env: { ...baseEnv, ...(await envOf()) } })
    const { app } = test
    const larger = await create(app, { fileName: 'a.txt', contentType: 'text/plain', size: 10 })
    // Real S3 refuses these at upload (size and type are signed); emulators take them, and the check catches them.
    const status = await upload(larger.upload, Buffer.from('much more than ten bytes'))
    if (status === 200) {
      t.match((await get(app, `/assets/${larger.assetId}`)).json(), {
        status: 'rejected',
        rejectedReason: /declared 10/
      })
      t.equal(await objectExists(test, larger.s3Key), false, 'the oversized object is deleted')
    } else {
      t.equal(status, 403, 'or S3 refused it')
    }
    const retyped = await create(app, { fileName: 'b.png', contentType: 'image/png', size: 4 })
    if ((await upload(retyped.upload, Buffer.from('abcd'), 'text/html')) === 200) {
      t.match((await get(app, `/assets/${retyped.assetId}`)).json(), {
        status: 'rejected',
        rejectedReason: /text\/html/
      })
      t.equal(await objectExists(test, retyped.s3Key), false)
    }
    t.equal((await get(app, `/assets/${retyped.assetId}/download`)).statusCode, 409, 'a rejected asset has no download')
  })

  t.test(`${engine}: a 20 MiB file in 5 MiB parts completes and downloads intact`, async t => {
    const { app } = await buildTestApp(t, {
      env: { ...baseEnv, ...(await envOf()), ASSETS_MULTIPART_BYTES: String(10 * MIB) }
    })
    const bytes = randomBytes(20 * MIB)
    const created = await create(app, { fileName: 'video.mp4', contentType: 'video/mp4', size: bytes.length })
    t.match(created.upload, { method: 'MULTIPART', partSize: 5 * MIB, partCount: 4 })
    t.equal(created.multipart.uploadId, created.upload.uploadId)
    const urls = await app.inject({
      method: 'POST',
      url: `/assets/${created.assetId}/parts`,
      headers,
      payload: { partNumbers: [1, 2, 3, 4] }
    })
    t.equal(urls.statusCode, 200)
    t.equal(
      (
        await app.inject({
          method: 'POST',
          url: `/assets/${created.assetId}/parts`,
          headers,
          payload: { partNumbers: [5] }
        })
      ).statusCode,
      400,
      'no part past the last'
    )
    const parts = await Promise.all(
      urls.json().parts.map(async ({ partNumber, url }: { partNumber: number; url: string }) => {
        const res = await fetch(url, {
          method: 'PUT',
          body: new Uint8Array(bytes.subarray((partNumber - 1) * 5 * MIB, partNumber * 5 * MIB))
        })
        t.equal(res.status, 200, `part ${partNumber}`)
        return { partNumber, etag: res.headers.get('etag')! }
      })
    )
    const completed = await app.inject({
      method: 'POST',
      url: `/assets/${created.assetId}/complete`,
      headers,
      payload: { parts }
    })
    t.equal(completed.statusCode, 200)
    t.match(completed.json(), { status: 'uploaded', size: 20 * MIB })
    const download = await fetch((await get(app, `/assets/${created.assetId}/download`)).json().url)
    const got = Buffer.from(await download.arrayBuffer())
    t.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(bytes).digest('hex'), 'intact')
  })
}

for (const [engine, envOf] of engines) {
  t.test(
    `${engine}: completing with a part never uploaded or past the last is 400, and the server keeps serving`,
    async t => {
      const { app } = await buildTestApp(t, {
        env: { ...baseEnv, ...(await envOf()), ASSETS_MULTIPART_BYTES: String(5 * MIB) }
      })
      const created = await create(app, { fileName: 'big.zip', contentType: 'application/zip', size: 12 * MIB })
      const complete = (parts: Array<{ partNumber: number; etag: string }>) =>
        app.inject({ method: 'POST', url: `/assets/${created.assetId}/complete`, headers, payload: { parts } })

      const past = await complete([{ partNumber: 9, etag: '"abc"' }])
      t.equal(past.statusCode, 400)
      t.equal(past.json().code, 'INVALID_PART')
      const never = await complete([{ partNumber: 1, etag: '"0123456789abcdef0123456789abcdef"' }])
      t.equal(never.statusCode, 400, never.body)
      t.equal(never.json().code, 'INVALID_PARTS')
      const refusal = await app.assetsRepository
        .complete(created.assetId, [{ partNumber: 1, etag: '"0123456789abcdef0123456789abcdef"' }])
        .catch((err: unknown) => err as Error)
      t.match(refusal, { code: 'INVALID_PARTS' })
      t.match((refusal as Error).cause, { $metadata: { httpStatusCode: 400 } }, "S3's own refusal is kept as the cause")

      const {
        parts: [part]
      } = (
        await app.inject({
          method: 'POST',
          url: `/assets/${created.assetId}/parts`,
          headers,
          payload: { partNumbers: [1] }
        })
      ).json()
      const uploaded = await fetch(part.url, { method: 'PUT', body: new Uint8Array(randomBytes(5 * MIB)) })
      const wrongTag = await complete([{ partNumber: 1, etag: '"ffffffffffffffffffffffffffffffff"' }])
      t.equal(wrongTag.statusCode, 400, 'a part whose ETag differs')
      t.equal(wrongTag.json().code, 'INVALID_PARTS')
      t.ok(uploaded.headers.get('etag'))
      t.equal((await get(app, `/assets/${created.assetId}`)).json().status, 'pending', 'still served, still pending')
    }
  )
}

t.test('a multipart upload can be aborted with DELETE; parts of a single-PUT asset are refused', async t => {
  const { app } = await buildTestApp(t, { env: { ...baseEnv, ASSETS_MULTIPART_BYTES: String(5 * MIB) } })
  const big = await create(app, { fileName: 'big.zip', contentType: 'application/zip', size: 6 * MIB })
  const aborted = await app.inject({ method: 'DELETE', url: `/assets/${big.assetId}`, headers })
  t.equal(aborted.statusCode, 204, aborted.body)
  t.equal((await get(app, `/assets/${big.assetId}`)).statusCode, 404)
  const small = await create(app, { fileName: 'small.zip', contentType: 'application/zip', size: 10 })
  const parts = await app.inject({
    method: 'POST',
    url: `/assets/${small.assetId}/parts`,
    headers,
    payload: { partNumbers: [1] }
  })
  t.equal(parts.statusCode, 409)
  t.equal(parts.json().code, 'NOT_MULTIPART')
})

t.test('unsafe file names never leave assets/<assetId>/', async t => {
  const { app } = await buildTestApp(t, { env: baseEnv })
  const names = [
    '../../etc/passwd',
    '..\\..\\boot.ini',
    'a/b/c.txt',
    '....',
    '/',
    ' ',
    'x\u0000y\u001fz\u007f.txt',
    '.hidden',
    'résumé.pdf',
    'a'.repeat(1000)
  ]
  for (const name of names) {
    const created = await create(app, { fileName: name, contentType: 'text/plain', size: 1 })
    const rest = created.s3Key.slice(`assets/${created.assetId}/`.length)
    t.ok(
      created.s3Key.startsWith(`assets/${created.assetId}/`),
      `${JSON.stringify(name).slice(0, 40)} stays under its prefix`
    )
    t.notOk(
      // eslint-disable-next-line no-control-regex
      /[/\\\u0000-\u001f\u007f]|\.\./.test(rest),
      `no separator, .. or control character in ${JSON.stringify(rest).slice(0, 40)}`
    )
    t.ok(rest.length >= 1 && rest.length <= 200)
    t.equal(created.fileName, rest)
  }
  t.equal(safeFileName('résumé 2026.pdf'), 'résumé 2026.pdf', 'a safe name is kept as sent')
  t.equal(safeFileName('../../etc/passwd'), '_._etc_passwd')
})

t.test('listing by status: newest first, across a cursor; no Scan', async t => {
  const { app } = await buildTestApp(t, { env: baseEnv })
  const made = []
  for (let i = 0; i < 5; i++) {
    made.push(await create(app, { fileName: `f${i}.txt`, contentType: 'text/plain', size: 1 }))
    await new Promise(resolve => setTimeout(resolve, 3))
  }
  for (const asset of made.slice(0, 3)) {
    await upload(asset.upload, Buffer.from('x'))
    await get(app, `/assets/${asset.assetId}`)
  }
  const first = (await get(app, '/assets?status=uploaded&limit=2')).json()
  t.same(
    first.assets.map((a: { fileName: string }) => a.fileName),
    ['f2.txt', 'f1.txt']
  )
  t.type(first.cursor, 'string')
  const second = (await get(app, `/assets?status=uploaded&limit=2&cursor=${first.cursor}`)).json()
  t.same(
    second.assets.map((a: { fileName: string }) => a.fileName),
    ['f0.txt']
  )
  t.equal(second.cursor, null)
  t.same(
    (await get(app, '/assets?status=pending')).json().assets.map((a: { fileName: string }) => a.fileName),
    ['f4.txt', 'f3.txt']
  )
  t.equal(
    (await get(app, `/assets?status=pending&cursor=${first.cursor}`)).statusCode,
    400,
    'a cursor of another status'
  )
  t.equal((await get(app, '/assets')).statusCode, 400, 'status is required')
})

t.test('expired metadata is gone before DynamoDB deletes it', async t => {
  const { app, clients, config } = await buildTestApp(t, { env: baseEnv })
  const asset = await create(app, { fileName: 'old.txt', contentType: 'text/plain', size: 1 })
  await clients.dynamodb.send(
    new UpdateItemCommand({
      TableName: config.tables.assets,
      Key: { assetId: { S: asset.assetId } },
      UpdateExpression: 'SET #ttl = :past',
      ExpressionAttributeNames: { '#ttl': 'ttl' },
      ExpressionAttributeValues: { ':past': { N: String(Math.floor(Date.now() / 1000) - 1) } }
    })
  )
  t.equal((await get(app, `/assets/${asset.assetId}`)).statusCode, 404)
  t.same((await get(app, '/assets?status=pending')).json().assets, [])
  t.equal((await app.inject({ method: 'DELETE', url: `/assets/${asset.assetId}`, headers })).statusCode, 404)
})

t.test('every asset names its bucket, s3Bucket, stored in its record (seed 001)', async t => {
  const { app, clients, config } = await buildTestApp(t, { env: baseEnv })
  const bucket = config.buckets.assets
  const asset = await create(app, { fileName: 'where.txt', contentType: 'text/plain', size: 1 })
  t.equal(asset.s3Bucket, bucket, 'POST /assets')
  t.equal((await get(app, `/assets/${asset.assetId}`)).json().s3Bucket, bucket, 'GET /assets/{assetId}')
  t.equal((await get(app, '/assets?status=pending')).json().assets[0]?.s3Bucket, bucket, 'GET /assets')
  const { Item } = await clients.dynamodb.send(
    new GetItemCommand({ TableName: config.tables.assets, Key: { assetId: { S: asset.assetId } } })
  )
  t.same(Item?.s3Bucket, { S: bucket }, 'the DynamoDB item holds it')

  // A record written before the bucket was stored reads as the configured bucket, where every asset lived then.
  await clients.dynamodb.send(
    new UpdateItemCommand({
      TableName: config.tables.assets,
      Key: { assetId: { S: asset.assetId } },
      UpdateExpression: 'REMOVE s3Bucket'
    })
  )
  t.equal((await get(app, `/assets/${asset.assetId}`)).json().s3Bucket, bucket, 'an older record')

  const document = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
  const created = document.paths['/assets'].post.responses['201'].content['application/json'].schema
  t.ok(created.required.includes('s3Bucket'), 'the OpenAPI document lists s3Bucket')
  t.equal(created.properties.s3Bucket.type, 'string')
})

t.test('bad declarations are refused and nothing is stored', async t => {
  const { app } = await buildTestApp(t, { env: { ...baseEnv, ASSETS_MAX_BYTES: '1000' } })
  const cases: Array<[string, Record<string, unknown>, number, string?]> = [
    ['type not allowed', { fileName: 'a.html', contentType: 'text/html', size: 1 }, 400, 'CONTENT_TYPE_NOT_ALLOWED'],
    ['too large', { fileName: 'a.txt', contentType: 'text/plain', size: 1001 }, 413, 'ASSET_TOO_LARGE'],
    ['size 0', { fileName: 'a.txt', contentType: 'text/plain', size: 0 }, 400],
    ['size not an integer', { fileName: 'a.txt', contentType: 'text/plain', size: '10' }, 400],
    ['no file name', { fileName: '', contentType: 'text/plain', size: 1 }, 400],
    ['unknown field', { fileName: 'a.txt', contentType: 'text/plain', size: 1, public: true }, 400]
  ]
  for (const [name, body, status, code] of cases) {
    const res = await app.inject({ method: 'POST', url: '/assets', headers, payload: body })
    t.equal(res.statusCode, status, name)
    if (code) t.equal(res.json().code, code)
  }
  t.same((await get(app, '/assets?status=pending')).json().assets, [], 'nothing stored')
  t.equal((await get(app, '/assets/not-a-uuid')).statusCode, 400)
  t.equal((await get(app, '/assets/00000000-0000-4000-8000-000000000000')).statusCode, 404)
})

t.test('concurrent checks record one outcome', async t => {
  const { app } = await buildTestApp(t, { env: baseEnv })
  const asset = await create(app, { fileName: 'c.txt', contentType: 'text/plain', size: 3 })
  await upload(asset.upload, Buffer.from('abc'))
  const reads = await Promise.all(Array.from({ length: 10 }, () => get(app, `/assets/${asset.assetId}`)))
  t.ok(reads.every(r => r.json().status === 'uploaded'))
  t.equal(new Set(reads.map(r => r.json().uploadedAt)).size, 1, 'one check won; the others read its result')
})
