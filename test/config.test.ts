import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.ts'

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
  const lambda = loadConfig({ DATA_TABLE: 'prod-data', ALLOWED_ORIGINS: 'https://a.example, https://b.example' }, 'lambda')
  t.equal(lambda.embeddedStack, false, 'Lambda never starts the embedded stack')
  t.equal(lambda.prettyLogs, false)
  t.equal(lambda.tables.data, 'prod-data')
  t.same(lambda.allowedOrigins, ['https://a.example', 'https://b.example'])
})

t.test('endpoints switch off the embedded stack and use emulator credentials', async t => {
  const config = loadConfig({ AWS_ENDPOINT_URL_DYNAMODB: 'http://localhost:8000/', AWS_ENDPOINT_URL_S3: 'http://localhost:5000' })
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
})
