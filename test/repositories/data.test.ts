import { randomUUID } from 'node:crypto'
import { PutItemCommand } from '@aws-sdk/client-dynamodb'
import { GetObjectTaggingCommand, ListObjectsV2Command, type Tag } from '@aws-sdk/client-s3'
import t from 'tap'
import { createAwsClients, destroyAwsClients, type AwsClients } from '../../src/aws/clients.ts'
import { DataRepository, UNCOMMITTED_TAG, type DatasetInput } from '../../src/repositories/data.ts'
import { toErrorResponse } from '../../src/plugins/app/errors.ts'
import { failWritesAfter } from '../fixtures/failing-dynamodb.ts'
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

/** A writer whose process dies: from now on no write of it reaches DynamoDB, and S3 takes `s3Writes` more. */
function killWriter(clients: AwsClients, s3Writes: number): () => void {
  const failures = [failWritesAfter(clients.dynamodb, 0), failWritesAfter(clients.s3, s3Writes)]
  return () => failures.forEach(failure => failure.restore())
}

/** The tags of every payload object of a dataset, by object key. */
async function payloadTags(clients: AwsClients, bucket: string, keyId: string): Promise<Map<string, Tag[]>> {
  const { Contents = [] } = await clients.s3.send(
    new ListObjectsV2Command({ Bucket: bucket, Prefix: `data/${keyId}/` })
  )
  const tags = await Promise.all(
    Contents.map(async ({ Key }) => {
      const { TagSet = [] } = await clients.s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key }))
      return [Key!, TagSet] as const
    })
  )
  return new Map(tags)
}

async function largePayloads(t: { teardown: (fn: () => unknown) => void }) {
  const { clients, config } = await setup(t)
  const bucket = config.buckets.payloads
  const repo = new DataRepository({ ...clients, table: config.tables.data, bucket, inlinePayloadBytes: 16 })
  return { repo, clients, bucket }
}

t.test('a writer killed between the S3 put and the DynamoDB write leaves its payload marked for expiry', async t => {
  const { repo, clients, bucket } = await largePayloads(t)

  // A committed create, then an update whose writer dies after its S3 put.
  const { keyId } = await repo.create(input())
  const committed = (await repo.latest(keyId))!.payloadKey!
  t.same([...(await payloadTags(clients, bucket, keyId))], [[committed, []]], 'a committed payload carries no tag')
  const revive = killWriter(clients, 1)
  await t.rejects(repo.update(keyId, input()), { name: 'InjectedFailure' })
  revive()
  t.equal((await repo.latest(keyId))?.version, 1, 'the update never landed')
  const tags = await payloadTags(clients, bucket, keyId)
  const orphans = [...tags.keys()].filter(key => key !== committed)
  t.equal(orphans.length, 1, 'the dead writer left its object behind, referenced by nothing')
  t.same(tags.get(committed), [], 'the committed payload still carries no tag')
  t.same(tags.get(orphans[0]!), [UNCOMMITTED_TAG], 'the orphan is marked for expiry')

  // A create whose writer dies the same way.
  const orphanKey = randomUUID()
  const kill = killWriter(clients, 1)
  await t.rejects(repo.create(input(), orphanKey), { name: 'InjectedFailure' })
  kill()
  t.equal(await repo.latest(orphanKey), undefined, 'no dataset')
  const left = [...(await payloadTags(clients, bucket, orphanKey)).values()]
  t.equal(left.length, 1, 'one object left behind')
  t.same(left, [[UNCOMMITTED_TAG]], 'it is marked for expiry')
})

t.test('a writer killed after the DynamoDB write but before the untag: the next read clears the tag', async t => {
  const { repo, clients, bucket } = await largePayloads(t)
  const keyId = randomUUID()
  const body = input()
  // S3 takes the put and refuses the untag; DynamoDB takes the write.
  const failure = failWritesAfter(clients.s3, 1)
  await t.rejects(repo.create(body, keyId), { name: 'InjectedFailure' })
  failure.restore()
  t.same([...(await payloadTags(clients, bucket, keyId)).values()], [[UNCOMMITTED_TAG]], 'referenced, yet marked')
  t.equal((await repo.get(keyId))?.payload, body.payload)
  t.same([...(await payloadTags(clients, bucket, keyId)).values()], [[]], 'after a read it carries no tag')
})
