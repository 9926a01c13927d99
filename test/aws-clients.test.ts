import t from 'tap'
import { createAwsClients, destroyAwsClients, EMULATOR_CREDENTIALS } from '../src/aws/clients.ts'
import { buildTestApp } from './helper.ts'

t.test('every client is built once, on credentials and a region decided once', async t => {
  const clients = createAwsClients({ region: 'eu-west-3', endpoints: {}, useEmulatorCredentials: true })
  t.teardown(() => destroyAwsClients(clients))
  const [lambda, secretsManager, ssm] = await Promise.all([clients.lambda(), clients.secretsManager(), clients.ssm()])
  t.equal(await clients.lambda(), lambda, 'the Lambda client is made once')
  t.equal(await clients.secretsManager(), secretsManager, 'the Secrets Manager client is made once')
  t.equal(await clients.ssm(), ssm, 'the SSM client is made once')
  for (const client of [clients.dynamodb, clients.s3, lambda, secretsManager, ssm]) {
    const name = client.constructor.name
    t.equal(await client.config.region(), 'eu-west-3', `${name}: the region`)
    t.match(await client.config.credentials(), EMULATOR_CREDENTIALS, `${name}: the credentials`)
  }
})

t.test("the app's plugins take their clients from app.aws: the sync launcher and the secret reads", async t => {
  const { app } = await buildTestApp(t)
  const [lambda, secretsManager] = await Promise.all([app.aws.lambda(), app.aws.secretsManager()])
  t.equal(await app.aws.lambda(), lambda)
  t.equal(await app.aws.secretsManager(), secretsManager)
})
