import Fastify from 'fastify'
import t from 'tap'
import authPlugin from '../src/plugins/app/auth.ts'
import errorsPlugin from '../src/plugins/app/errors.ts'
import repositoriesPlugin from '../src/plugins/app/repositories.ts'
import rateLimitPlugin from '../src/plugins/external/rate-limit.ts'
import { testConfig } from './helper.ts'

// Plugins declare what must be registered before them, so an order that would break a guarantee fails at boot.

t.test('auth registered before the rate limiter fails at boot: refused callers must be counted', async t => {
  const config = await testConfig()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(errorsPlugin)
  await t.rejects(async () => {
    await app.register(authPlugin, { config, docsPrefix: '/docs' }).ready()
  }, /rate-limit/)
})

t.test('the rate limiter needs the error shape first; repositories need the AWS clients', async t => {
  const config = await testConfig()
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => {
    await app.register(rateLimitPlugin, { config, docsPrefix: '/docs' }).ready()
  }, /errors/)
  const other = Fastify()
  t.teardown(() => other.close())
  await t.rejects(async () => {
    await other.register(repositoriesPlugin, { config }).ready()
  }, /aws/)
})
