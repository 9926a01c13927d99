import { randomUUID } from 'node:crypto'
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb'
import t from 'tap'
import { createAwsClients, destroyAwsClients } from '../src/aws/clients.ts'
import { failWritesAfter } from './fixtures/failing-dynamodb.ts'
import { testConfig } from './helper.ts'

t.test('the failure fixture lets k writes through, then fails every write but no read', async t => {
  const config = await testConfig()
  const clients = createAwsClients(config)
  t.teardown(() => destroyAwsClients(clients))
  const db = DynamoDBDocumentClient.from(clients.dynamodb)
  const put = (sk: string) => db.send(new PutCommand({ TableName: config.tables.data, Item: { keyId: 'k', sk } }))
  const failure = failWritesAfter(clients.dynamodb, 2)
  await put('a')
  await put('b')
  await t.rejects(put('c'), { name: 'InjectedFailure' })
  t.equal(failure.writes, 2)
  const read = await db.send(
    new GetCommand({ TableName: config.tables.data, Key: { keyId: 'k', sk: 'b' }, ConsistentRead: true })
  )
  t.ok(read.Item, 'reads still work')
  failure.restore()
  await put('c-' + randomUUID())
  const stored = await db.send(
    new GetCommand({ TableName: config.tables.data, Key: { keyId: 'k', sk: 'c' }, ConsistentRead: true })
  )
  t.notOk(stored.Item, 'the failed write never reached the engine')
})
