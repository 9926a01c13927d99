import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { HeadObjectCommand } from '@aws-sdk/client-s3'
import t from 'tap'
import { buildApp } from '../../src/app.ts'
import { generateApiKey } from '../../src/auth/api-keys.ts'
import { failS3 } from '../../src/local/emulator-guard.ts'
import { motoAvailable, startMoto } from '../fixtures/moto.ts'
import { buildTestApp, injectAs } from '../helper.ts'

// S3 takes any key up to 1,024 bytes of UTF-8, whatever its segments' length; a file system takes 255 bytes a name.
const key = generateApiKey('assets', ['assets:read', 'assets:write'])
const baseEnv = { API_KEYS: JSON.stringify([key.entry]), RATE_LIMIT_MAX: '100000' }
/** Names past 255 bytes: an 80-character Japanese title (240 bytes and a suffix), and the longest name kept. */
const LONG_NAMES = [`${'日'.repeat(80)}.pdf`, `${'日'.repeat(196)}.pdf`]

const engines: Array<[string, () => Promise<NodeJS.ProcessEnv>]> = [["the test engine's S3", async () => ({})]]
if (!process.env.AWS_ENDPOINT_URL_S3 && motoAvailable()) {
  let moto: Promise<string> | undefined
  engines.push(['moto', async () => ({ AWS_ENDPOINT_URL_S3: await (moto ??= startMoto(t)) })])
}

for (const [engine, envOf] of engines) {
  t.test(`${engine}: an asset with a name past 255 bytes uploads, downloads and deletes`, async t => {
    const { app, clients, config } = await buildTestApp(t, { env: { ...baseEnv, ...(await envOf()) } })
    const api = injectAs(app, key.key)
    for (const fileName of LONG_NAMES) {
      const bytes = randomBytes(1000)
      const created = await api.post('/assets', { fileName, contentType: 'application/pdf', size: bytes.length })
      t.equal(created.statusCode, 201, 'created')
      const { assetId, s3Key, upload } = created.json()
      t.equal(s3Key, `assets/${assetId}/${fileName}`, 'the name is kept whole')

      const put = await fetch(upload.url, { method: 'PUT', body: new Uint8Array(bytes), headers: upload.headers })
      t.equal(put.status, 200, `presigned PUT of ${Buffer.byteLength(fileName)} bytes of name`)
      t.equal((await api.get(`/assets/${assetId}`)).json().status, 'uploaded')
      const download = await api.get(`/assets/${assetId}/download`)
      t.equal(download.statusCode, 200, 'a download URL')
      const got = await fetch(download.json().url)
      t.equal(got.status, 200)
      t.same(Buffer.from(await got.arrayBuffer()), bytes, 'the bytes come back')

      const health = await app.inject({ method: 'GET', url: '/health?deep=1' })
      t.equal(health.statusCode, 200, `the deep health check stays ok: ${health.body}`)
      t.equal(health.json().checks.s3, 'ok')

      t.equal((await api.delete(`/assets/${assetId}`)).statusCode, 204)
      t.equal((await api.get(`/assets/${assetId}`)).statusCode, 404)
      await t.rejects(
        clients.s3.send(new HeadObjectCommand({ Bucket: config.buckets.assets, Key: s3Key })),
        'the object is gone'
      )
    }
  })

  t.test(`${engine}: an asset whose object S3 fails to remove is still deleted`, async t => {
    const { app, config } = await buildTestApp(t, { env: { ...baseEnv, ...(await envOf()) } })
    const api = injectAs(app, key.key)
    const bytes = randomBytes(100)
    const created = (await api.post('/assets', { fileName: 'a.pdf', contentType: 'application/pdf', size: 100 })).json()
    await fetch(created.upload.url, { method: 'PUT', body: new Uint8Array(bytes), headers: created.upload.headers })
    const pending = (await api.post('/assets', { fileName: 'b.pdf', contentType: 'application/pdf', size: 100 })).json()

    // The same tables behind an S3 that fails every request, as an emulator failing on one key does.
    const failing = createServer((_req, res) => failS3(res))
    await new Promise<void>(resolve => failing.listen(0, '127.0.0.1', resolve))
    t.teardown(() => {
      failing.closeAllConnections()
      failing.close()
    })
    const logs: string[] = []
    const broken = await buildApp(
      {
        ...config,
        logLevel: 'warn',
        endpoints: { ...config.endpoints, s3: `http://127.0.0.1:${(failing.address() as AddressInfo).port}` }
      },
      { logStream: { write: line => logs.push(line) } }
    )
    t.teardown(() => broken.close())
    const brokenApi = injectAs(broken, key.key)
    for (const { assetId } of [created, pending]) {
      t.equal((await brokenApi.get(`/assets/${assetId}`)).statusCode, 503, 'reads say S3 is unavailable')
      const deleted = await brokenApi.delete(`/assets/${assetId}`)
      t.equal(deleted.statusCode, 204, deleted.body)
      t.equal((await api.get(`/assets/${assetId}`)).statusCode, 404, 'the record is gone')
    }
    t.ok(
      logs.some(line => /its object is left to expire/.test(line)),
      'the object left behind is logged'
    )
  })
}
