import { randomUUID } from 'node:crypto'
import {
  DeleteObjectCommand,
  DeleteObjectTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  PutObjectCommand
} from '@aws-sdk/client-s3'
import t from 'tap'
import { createAwsClients } from '../../src/aws/clients.ts'
import { testConfig } from '../helper.ts'

// What /data's expiry of uncommitted payloads relies on, as S3 does it: the embedded S3 (src/local/s3) does it, and
// the emulator pass shows moto agrees.
t.test('object tags: given with PutObject, counted by GetObject, cleared, and gone with the object', async t => {
  const config = await testConfig()
  const { s3 } = createAwsClients(config)
  t.teardown(() => s3.destroy())
  const Bucket = config.buckets.payloads
  const Key = `data/${randomUUID()}/a b+c`
  const tags = async () => (await s3.send(new GetObjectTaggingCommand({ Bucket, Key }))).TagSet ?? []
  const tagCount = async () => {
    const object = await s3.send(new GetObjectCommand({ Bucket, Key }))
    await object.Body!.transformToString()
    return object.TagCount ?? 0
  }

  await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'x', Tagging: 'state=uncommitted&note=a%20b%2Bc' }))
  t.same(await tags(), [
    { Key: 'state', Value: 'uncommitted' },
    { Key: 'note', Value: 'a b+c' }
  ])
  t.equal(await tagCount(), 2, 'GetObject counts them')

  await s3.send(new DeleteObjectTaggingCommand({ Bucket, Key }))
  t.same(await tags(), [], 'DeleteObjectTagging clears them')
  t.equal(await tagCount(), 0)

  await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'x', Tagging: 'state=uncommitted' }))
  await s3.send(new DeleteObjectCommand({ Bucket, Key }))
  await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'y' }))
  t.same(await tags(), [], 'a deleted object takes its tags with it')
})
