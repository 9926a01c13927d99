import { randomUUID } from 'node:crypto'
import { PutItemCommand } from '@aws-sdk/client-dynamodb'
import t from 'tap'
import { createAwsClients, destroyAwsClients } from '../../src/aws-clients.ts'
import { DataRepository, type DatasetInput } from '../../src/repositories/data.ts'
import { toErrorResponse } from '../../src/plugins/app/errors.ts'
import { answerOf, datasetBody, testConfig } from '../helper.ts'

async function setup(t: { teardown: (fn: () => unknown) => void }) {
  const config = await testConfig()
  const clients = createAwsClients(config)
  t.teardown(() => destroyAwsClients(clients))
  const repo = new DataRepository({ ...clients, table: config.tables.data, bucket: config.buckets.payloads })
  return { repo, clients, config }
}
const input = (): DatasetInput => datasetBody() as unknown as DatasetInput

t.test('create, update, get and delete through the repository', async t => {
  const { repo } = await setup(t)
  const created = await repo.create(input())
  t.equal(created.version, 1)
  const next = input()
  t.equal((await repo.update(created.keyId, next)).version, 2)
  t.match(await repo.get(created.keyId), { keyId: created.keyId, version: 2, payload: next.payload })
  await repo.delete(created.keyId)
  t.equal(await repo.get(created.keyId), undefined)
  t.match(await answerOf(repo.delete(created.keyId)), { statusCode: 404, code: 'DATASET_NOT_FOUND' })
})

t.test('of 20 concurrent conditional updates exactly one lands', async t => {
  const { repo } = await setup(t)
  const { keyId } = await repo.create(input())
  const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => repo.update(keyId, input(), [1])))
  t.equal(outcomes.filter(o => o.status === 'fulfilled').length, 1)
  t.ok(
    outcomes.every(o => o.status === 'fulfilled' || toErrorResponse(o.reason).body.statusCode === 412),
    'the rest are 412'
  )
  t.equal((await repo.latest(keyId))?.version, 2)
})

t.test('a copy landed late by a writer of a deleted generation is never shown', async t => {
  const { repo, clients, config } = await setup(t)
  const keyId = randomUUID()
  await repo.create(input(), keyId)
  await repo.update(keyId, input())
  const oldGeneration = (await repo.latest(keyId))!.generation
  await repo.delete(keyId)
  await repo.create(input(), keyId)
  const second = input()
  await repo.update(keyId, second)
  await repo.update(keyId, input())
  // What a writer of the first generation, delayed across the delete, would write last.
  await clients.dynamodb.send(
    new PutItemCommand({
      TableName: config.tables.data,
      Item: {
        keyId: { S: keyId },
        sk: { S: `V#${oldGeneration}#0000000002` },
        version: { N: '2' },
        generation: { S: oldGeneration },
        updatedAt: { S: '2020-01-01T00:00:00.000Z' },
        payload: { S: 'stale' },
        meta: { M: {} }
      }
    })
  )
  t.same(
    (await repo.versions(keyId))?.map(v => v.version),
    [3, 2, 1]
  )
  t.equal((await repo.version(keyId, 2))?.payload, second.payload, "version 2 is the current generation's")
})
