/**
 * Input the schemas accept but read loosely, on real routes, through both
 * ways validators are made (compiled at start-up, and the Lambda bundle's
 * precompiled ones): UUIDs in any case are one id, numbers sent as text are
 * decimal.
 */
import t from 'tap'
import { generateApiKey } from '../src/auth/api-keys.ts'
import type { SchemaCompilers } from '../src/http/schema-compilers.ts'
import { buildTestApp, datasetBody, injectAs, precompiledSchemaCompilers } from './helper.ts'

const key = generateApiKey('everything', ['*'])
const env = { API_KEYS: JSON.stringify([key.entry]), RATE_LIMIT_MAX: '100000' }

const compilers: Array<[string, () => Promise<SchemaCompilers | undefined>]> = [
  ['compiled at start-up', async () => undefined],
  ['precompiled', precompiledSchemaCompilers]
]

for (const [how, schemaCompilers] of compilers) {
  t.test(`a UUID in upper case is the same id (${how})`, async t => {
    const { app } = await buildTestApp(t, { env, schemaCompilers: await schemaCompilers() })
    const as = injectAs(app, key.key)
    const { keyId } = (await as.post('/data', datasetBody())).json()
    const upper = keyId.toUpperCase()

    const again = await as.post('/data', { ...datasetBody(), keyId: upper })
    t.equal(again.statusCode, 409, 'POST /data with the upper-case keyId of an existing dataset')
    t.equal(again.json().code, 'DATASET_EXISTS')
    const read = await as.get(`/data/${upper}`)
    t.equal(read.statusCode, 200, 'GET of the upper-case id finds it')
    t.equal(read.json().keyId, keyId)
    t.equal((await as.get(`/data/${upper}/versions/1`)).statusCode, 200)
    const put = await as.put(`/data/${upper}`, datasetBody(), { 'if-match': '"1"' })
    t.equal(put.statusCode, 200)
    t.equal(put.json().keyId, keyId)

    const fresh = '9B2F8C0E-3D4A-4B6C-9F1E-2A7D5C8B1E30'
    const created = await as.post('/data', { ...datasetBody(), keyId: fresh })
    t.equal(created.statusCode, 201)
    t.equal(created.json().keyId, fresh.toLowerCase(), 'stored as the lower-case id')
    t.equal(created.headers.location, `/data/${fresh.toLowerCase()}`)
    t.equal((await as.post('/data', { ...datasetBody(), keyId: fresh.toLowerCase() })).statusCode, 409)
    t.equal((await as.delete(`/data/${fresh}`)).json().keyId, fresh.toLowerCase())
    t.equal((await as.get(`/data/${fresh.toLowerCase()}`)).statusCode, 404, 'deleted through the upper-case id')

    const user = (await as.post('/users', { email: 'case@example.com', name: 'Case' })).json()
    t.equal((await as.get(`/users/${user.userId.toUpperCase()}`)).json().userId, user.userId)
    const asset = (await as.post('/assets', { fileName: 'a.png', contentType: 'image/png', size: 10 })).json()
    t.equal((await as.get(`/assets/${asset.assetId.toUpperCase()}`)).json().assetId, asset.assetId)
  })

  t.test(`numbers sent as text are decimal digits only (${how})`, async t => {
    const { app } = await buildTestApp(t, { env, schemaCompilers: await schemaCompilers() })
    const as = injectAs(app, key.key)
    const { keyId } = (await as.post('/data', datasetBody())).json()
    await as.post('/projects/p1/changes', { entityType: 'doc', entityId: 'd1', operation: 'create', data: {} })
    for (const text of ['0x10', '0X1', '0b1', '0o7', '1e1', '+1', ' 1', '1 ', '1.0', '1_0', 'Infinity', '1e309']) {
      const query = encodeURIComponent(text)
      for (const url of [
        `/projects/p1/changes?wait=${query}`,
        `/projects/p1/changes?since=${query}`,
        `/projects/p1/changes/${query}`,
        `/data/${keyId}/versions/${query}`,
        `/users?limit=${query}`
      ]) {
        const res = await as.get(url)
        t.equal(res.statusCode, 400, `${url}`)
        t.equal(res.json().code, 'VALIDATION_FAILED', url)
      }
    }
    t.match(
      (await as.get('/projects/p1/changes?wait=0x10')).json().message,
      /wait must be an integer in decimal digits/
    )
    t.equal((await as.get('/projects/p1/changes?since=0&wait=0')).statusCode, 200, 'decimal is read')
    t.equal((await as.get('/projects/p1/changes?since=00')).statusCode, 200, 'leading zeros are still decimal')
    t.equal((await as.get(`/data/${keyId}/versions/1`)).statusCode, 200)
  })
}
