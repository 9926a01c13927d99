import type { FastifyPluginAsync } from 'fastify'
import t from 'tap'
import { generateApiKey } from '../src/auth/api-keys.ts'
import { buildApp } from '../src/app.ts'
import { createAwsClients, destroyAwsClients } from '../src/aws/clients.ts'
import { buildTestApp, testConfig } from './helper.ts'
import { motoAvailable, startMoto, storeSecretAndParameter } from './fixtures/moto.ts'

const probe: FastifyPluginAsync = async app => {
  app.get('/probe', { config: { auth: { scopes: ['users:read'] } } }, async () => ({ ok: true }))
}

t.test(
  'API keys read at start-up from Secrets Manager and from SSM',
  { skip: motoAvailable() ? false : 'moto_server is not installed' },
  async t => {
    const endpoint = await startMoto(t)
    const fromSecret = generateApiKey('from-secret', ['users:read'])
    const fromParameter = generateApiKey('from-parameter', ['users:read'])
    await storeSecretAndParameter(
      endpoint,
      { name: 'atlas/api-keys', value: [fromSecret.entry] },
      { name: '/atlas/api-keys', value: [fromParameter.entry] }
    )
    const env = { AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint, AWS_ENDPOINT_URL_SSM: endpoint }

    const viaSecret = (
      await buildTestApp(t, { env: { ...env, API_KEYS_SECRET: 'atlas/api-keys' }, extraRoutes: [probe] })
    ).app
    t.equal(
      (await viaSecret.inject({ method: 'GET', url: '/probe', headers: { 'x-api-key': fromSecret.key } })).statusCode,
      200
    )
    t.equal(
      (await viaSecret.inject({ method: 'GET', url: '/probe', headers: { 'x-api-key': fromParameter.key } }))
        .statusCode,
      401
    )

    const viaParameter = (
      await buildTestApp(t, { env: { ...env, API_KEYS_SECRET: 'ssm:/atlas/api-keys' }, extraRoutes: [probe] })
    ).app
    t.equal(
      (await viaParameter.inject({ method: 'GET', url: '/probe', headers: { 'x-api-key': fromParameter.key } }))
        .statusCode,
      200
    )

    // Read through the app's own clients (app.aws), which build the Secrets Manager client once, on that read.
    const config = await testConfig({ ...env, API_KEYS_SECRET: 'atlas/api-keys' })
    const clients = createAwsClients(config)
    t.teardown(() => destroyAwsClients(clients))
    let asked = 0
    const counted = {
      ...clients,
      secretsManager: () => {
        asked++
        return clients.secretsManager()
      }
    }
    const app = await buildApp(config, { clients: counted, extraRoutes: [probe] })
    t.teardown(() => app.close())
    t.equal(asked, 1, "the keys were read through the app's Secrets Manager client")
    t.equal(
      (await app.inject({ method: 'GET', url: '/probe', headers: { 'x-api-key': fromSecret.key } })).statusCode,
      200
    )

    await t.rejects(
      buildTestApp(t, { env: { ...env, API_KEYS_SECRET: 'atlas/missing' }, extraRoutes: [probe] }),
      'a secret that cannot be read stops the start, rather than serving with no keys'
    )
  }
)
