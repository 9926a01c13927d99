import t from 'tap'
import { ConfigError, loadConfig } from '../src/config/config.ts'

t.test('defaults for a laptop', async t => {
  const config = loadConfig({})
  t.equal(config.port, 3000)
  t.equal(config.host, '127.0.0.1')
  t.equal(config.dataDir, '.data')
  t.equal(config.embeddedStack, true, 'no endpoints and not production: the embedded stack')
  t.equal(config.allowedOrigins, '*')
  t.equal(config.prettyLogs, true)
  t.equal(config.tables.data, 'atlas-data')
})

t.test('production and Lambda', async t => {
  const prod = loadConfig({ NODE_ENV: 'production' })
  t.equal(prod.embeddedStack, false)
  t.same(prod.allowedOrigins, [], 'no CORS unless origins are given')
  t.equal(prod.prettyLogs, false)
  const lambda = loadConfig(
    { DATA_TABLE: 'prod-data', ALLOWED_ORIGINS: 'https://a.example, https://b.example' },
    'lambda'
  )
  t.equal(lambda.embeddedStack, false, 'Lambda never starts the embedded stack')
  t.equal(lambda.prettyLogs, false)
  t.equal(lambda.tables.data, 'prod-data')
  t.same(lambda.allowedOrigins, ['https://a.example', 'https://b.example'])
})

t.test('endpoints switch off the embedded stack and use emulator credentials', async t => {
  const config = loadConfig({
    AWS_ENDPOINT_URL_DYNAMODB: 'http://localhost:8000/',
    AWS_ENDPOINT_URL_S3: 'http://localhost:5000'
  })
  t.equal(config.embeddedStack, false)
  t.equal(config.useEmulatorCredentials, true)
  t.equal(config.endpoints.dynamodb, 'http://localhost:8000')
  t.equal(loadConfig({ AWS_ENDPOINT_URL_S3: 'http://x:1', AWS_ACCESS_KEY_ID: 'AKIA' }).useEmulatorCredentials, false)
})

t.test('bad values are refused with the variable named', async t => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), ConfigError)
  t.throws(() => loadConfig({ PORT: '70000' }), /PORT/)
  t.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), /LOG_LEVEL/)
  t.throws(() => loadConfig({ AWS_ENDPOINT_URL_DYNAMODB: 'not a url' }), /AWS_ENDPOINT_URL_DYNAMODB/)
  t.throws(() => loadConfig({ OBSIDIAN_API_URL: 'ftp://example.com' }), /OBSIDIAN_API_URL/)
})

t.test('the Obsidian API: the real one unless set', async t => {
  t.equal(loadConfig({}).obsidian.apiUrl, 'https://api.obsidian.md')
  t.equal(loadConfig({ OBSIDIAN_API_URL: 'http://127.0.0.1:9000/' }).obsidian.apiUrl, 'http://127.0.0.1:9000')
})

t.test('asset limits: defaults, overrides and refusals', async t => {
  const defaults = loadConfig({}).assets
  t.same(
    [defaults.maxBytes, defaults.multipartBytes, defaults.presignTtlSeconds],
    [100 * 1024 * 1024, 64 * 1024 * 1024, 3600]
  )
  t.ok(
    defaults.allowedTypes.includes('image/png') && !defaults.allowedTypes.includes('text/html'),
    'no type a browser would run'
  )
  const set = loadConfig({
    ASSETS_MAX_BYTES: '1000',
    ASSETS_ALLOWED_TYPES: 'Image/PNG, text/plain',
    ASSETS_MULTIPART_BYTES: '10485760',
    PRESIGN_TTL_SECONDS: '60'
  }).assets
  t.same(set, {
    maxBytes: 1000,
    allowedTypes: ['image/png', 'text/plain'],
    multipartBytes: 10485760,
    presignTtlSeconds: 60
  })
  t.throws(() => loadConfig({ ASSETS_ALLOWED_TYPES: 'png' }), /ASSETS_ALLOWED_TYPES/)
  t.throws(() => loadConfig({ ASSETS_MULTIPART_BYTES: '1024' }), /ASSETS_MULTIPART_BYTES/)
  t.throws(() => loadConfig({ PRESIGN_TTL_SECONDS: '999999' }), /PRESIGN_TTL_SECONDS/)
  t.throws(() => loadConfig({ ASSETS_MAX_BYTES: '-1' }), /ASSETS_MAX_BYTES/)
})

t.test(
  'the server creates missing tables and buckets on emulators outside production, never in production',
  async t => {
    const emulators = {
      AWS_ENDPOINT_URL_DYNAMODB: 'http://localhost:8000',
      AWS_ENDPOINT_URL_S3: 'http://localhost:5000'
    }
    t.equal(loadConfig(emulators).createMissingStorage, true)
    t.equal(loadConfig({ ...emulators, NODE_ENV: 'production' }).createMissingStorage, false)
    t.equal(loadConfig(emulators, 'lambda').createMissingStorage, false)
    t.equal(loadConfig({}).createMissingStorage, false, 'the embedded stack creates its own')
    t.equal(
      loadConfig({ AWS_ENDPOINT_URL_DYNAMODB: 'http://localhost:8000' }).createMissingStorage,
      true,
      'the tables on DynamoDB Local alone (src/local/bootstrap.ts leaves S3, which may be AWS, alone)'
    )
  }
)

t.test('DOCS_ACCESS: public by default, off, or a scope', async t => {
  t.equal(loadConfig({}).docs, 'public')
  t.equal(loadConfig({ DOCS_ACCESS: '' }).docs, 'public', 'empty, as the template passes the default')
  t.equal(loadConfig({ DOCS_ACCESS: 'off' }).docs, 'off')
  t.same(loadConfig({ DOCS_ACCESS: 'docs:read' }).docs, { scope: 'docs:read' })
  t.throws(() => loadConfig({ DOCS_ACCESS: 'docs read' }), { name: 'ConfigError', message: /DOCS_ACCESS/ })
})

t.test("on Lambda the log level comes from the function's LoggingConfig unless LOG_LEVEL is set", async t => {
  t.equal(loadConfig({ AWS_LAMBDA_LOG_LEVEL: 'DEBUG' }, 'lambda').logLevel, 'debug')
  t.equal(loadConfig({ AWS_LAMBDA_LOG_LEVEL: 'WARN', LOG_LEVEL: 'error' }, 'lambda').logLevel, 'error')
  t.equal(loadConfig({}, 'lambda').logLevel, 'info')
})
