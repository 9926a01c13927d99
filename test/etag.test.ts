/**
 * Entity tags compare byte for byte (RFC 9110): `"01"` is another tag than
 * `"1"`, whatever number both spell, on every route that sends an ETag.
 */
import t from 'tap'
import { generateApiKey } from '../src/auth/api-keys.ts'
import { ifMatchVersions, matchesVersion } from '../src/http/etag.ts'
import { buildTestApp, datasetBody, injectAs } from './helper.ts'

const key = generateApiKey('etag', ['*'])
const env = { API_KEYS: JSON.stringify([key.entry]) }
const SPELLINGS_OF_ONE = ['"01"', '"1.0"', '"+1"', '"1e0"', '" 1"', '"001"']

t.test('a tag names a version only when it is the exact text the ETag header gives', async t => {
  for (const tag of SPELLINGS_OF_ONE) {
    t.same(ifMatchVersions(tag), [], `If-Match ${tag}`)
    t.notOk(matchesVersion(tag, 1), `If-None-Match ${tag}`)
    t.notOk(matchesVersion(`W/${tag}`, 1), `If-None-Match W/${tag}`)
  }
  t.same(ifMatchVersions('"1", "02", "3"'), [1, 3])
  t.ok(matchesVersion('"0"', 0))
})

t.test('PUT /data: If-Match "01" is not the ETag "1"; If-None-Match "02" is not "2"', async t => {
  const { app } = await buildTestApp(t, { env })
  const as = injectAs(app, key.key)
  const { keyId } = (await as.post('/data', datasetBody())).json()
  for (const tag of SPELLINGS_OF_ONE) {
    const res = await as.put(`/data/${keyId}`, datasetBody(), { 'if-match': tag })
    t.equal(res.statusCode, 412, `If-Match ${tag}`)
  }
  t.equal((await as.get(`/data/${keyId}`)).headers.etag, '"1"', 'nothing written')
  t.equal((await as.put(`/data/${keyId}`, datasetBody(), { 'if-match': '"1"' })).statusCode, 200)

  const cached = await as.get(`/data/${keyId}`, { 'if-none-match': '"2"' })
  t.equal(cached.statusCode, 304)
  for (const tag of ['"02"', 'W/"02"', '"2.0"']) {
    const res = await as.get(`/data/${keyId}`, { 'if-none-match': tag })
    t.equal(res.statusCode, 200, `If-None-Match ${tag}`)
    t.equal(res.headers.etag, '"2"')
  }
})

t.test('PATCH /users: If-Match "01" is not the ETag "1"', async t => {
  const { app } = await buildTestApp(t, { env })
  const as = injectAs(app, key.key)
  const user = (await as.post('/users', { email: 'etag@example.com', name: 'Etag' })).json()
  for (const tag of SPELLINGS_OF_ONE) {
    const res = await as.patch(`/users/${user.userId}`, { name: 'Changed' }, { 'if-match': tag })
    t.equal(res.statusCode, 412, `If-Match ${tag}`)
  }
  const read = await as.get(`/users/${user.userId}`)
  t.equal(read.json().name, 'Etag', 'nothing written')
  t.equal(read.headers.etag, '"1"')
  t.equal((await as.patch(`/users/${user.userId}`, { name: 'Changed' }, { 'if-match': '"1"' })).statusCode, 200)
})
