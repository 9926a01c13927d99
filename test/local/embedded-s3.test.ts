import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  ListObjectsV2Command,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client
} from '@aws-sdk/client-s3'
import t from 'tap'
import { EMULATOR_CREDENTIALS } from '../../src/aws/clients.ts'
import { S3_DIRECTORY, startEmbeddedStack } from '../../src/local/embedded-stack.ts'

// The embedded S3 itself: what it keeps on disk and across restarts, and the edges of S3's keys.
const client = (endpoint: string, options: { requestChecksumCalculation?: 'WHEN_SUPPORTED' } = {}) =>
  new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: EMULATOR_CREDENTIALS, ...options })

async function dataDir(t: { teardown: (fn: () => unknown) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'atlas-embedded-s3-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** Every name under `dir`, recursively. */
async function names(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String)
}

t.test('any key S3 takes is stored: long segments, dots, slashes; none becomes a file name', async t => {
  const dir = await dataDir(t)
  const stack = await startEmbeddedStack({ dataDir: dir })
  t.teardown(() => stack.close())
  const s3 = client(stack.s3Endpoint)
  t.teardown(() => s3.destroy())
  const Bucket = 'edge-keys'
  await s3.send(new CreateBucketCommand({ Bucket }))
  const keys = [
    `${'日'.repeat(341)}x`, // one segment of 1,024 bytes, S3's largest key
    'a/../b/./c',
    'double//slash/',
    'plus+and space & ampersand?#',
    `${'ü'.repeat(300)}/${'é'.repeat(200)}`
  ]
  for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }))
  for (const Key of keys)
    t.equal(await (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToString(), Key)
  const listed = await s3.send(new ListObjectsV2Command({ Bucket }))
  t.same(
    (listed.Contents ?? []).map(o => o.Key),
    [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    "listed in S3's order"
  )
  t.ok(
    (await names(join(dir, S3_DIRECTORY))).every(name => name.split('/').every(part => Buffer.byteLength(part) < 100)),
    'no file name comes from a key'
  )
  const tooLong = await s3.send(new PutObjectCommand({ Bucket, Key: `${'日'.repeat(341)}xy`, Body: '' })).then(
    () => 'stored',
    (err: Error) => err.name
  )
  t.equal(tooLong, 'KeyTooLongError', 'past 1,024 bytes, as S3')
})

t.test('objects, versions, tags and the versioning setting outlive a restart', async t => {
  const dir = await dataDir(t)
  const Bucket = 'kept'
  const Key = `notes/${'日'.repeat(80)}.md`
  let first = await startEmbeddedStack({ dataDir: dir })
  let s3 = client(first.s3Endpoint)
  await s3.send(new CreateBucketCommand({ Bucket }))
  await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }))
  const v1 = await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'one', Tagging: 'state=old' }))
  await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'two', Metadata: { sha256: 'abc' } }))
  s3.destroy()
  await first.close()

  first = await startEmbeddedStack({ dataDir: dir })
  t.teardown(() => first.close())
  s3 = client(first.s3Endpoint)
  t.teardown(() => s3.destroy())
  const latest = await s3.send(new GetObjectCommand({ Bucket, Key }))
  t.equal(await latest.Body!.transformToString(), 'two')
  t.same(latest.Metadata, { sha256: 'abc' })
  const old = await s3.send(new GetObjectCommand({ Bucket, Key, VersionId: v1.VersionId }))
  t.equal(await old.Body!.transformToString(), 'one')
  t.same((await s3.send(new GetObjectTaggingCommand({ Bucket, Key, VersionId: v1.VersionId }))).TagSet, [
    { Key: 'state', Value: 'old' }
  ])
  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket }))
  t.equal(versions.Versions?.length, 2)
  const third = await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'three' }))
  t.ok(third.VersionId && third.VersionId !== 'null', 'the bucket is still versioned')
})

t.test(
  'a streamed body the SDK sends aws-chunked, with a trailing checksum, is stored as the bytes inside',
  async t => {
    const stack = await startEmbeddedStack()
    t.teardown(() => stack.close())
    // The SDK's default: a checksum on every upload, which for a stream goes in aws-chunked framing.
    const s3 = client(stack.s3Endpoint, { requestChecksumCalculation: 'WHEN_SUPPORTED' })
    t.teardown(() => s3.destroy())
    const Bucket = 'chunked'
    await s3.send(new CreateBucketCommand({ Bucket }))
    const bytes = Buffer.alloc(200_000, 'x')
    const put = await s3.send(
      new PutObjectCommand({
        Bucket,
        Key: 'streamed',
        Body: Readable.from([bytes.subarray(0, 70_000), bytes.subarray(70_000)]),
        ContentLength: bytes.length
      })
    )
    t.ok(put.ETag)
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'streamed' }))
    t.same(Buffer.from(await got.Body!.transformToByteArray()), bytes)
  }
)

t.test('ListMultipartUploads lists the uploads in progress under a prefix, and no aborted one', async t => {
  const stack = await startEmbeddedStack()
  t.teardown(() => stack.close())
  const s3 = client(stack.s3Endpoint)
  t.teardown(() => s3.destroy())
  const Bucket = 'uploads'
  await s3.send(new CreateBucketCommand({ Bucket }))
  const start = async (Key: string) => (await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }))).UploadId!
  const kept = await start('exports/b.zip')
  const aborted = await start('exports/a.zip')
  const other = await start('elsewhere.zip')
  await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: 'exports/a.zip', UploadId: aborted }))

  const listed = async (Prefix?: string) =>
    ((await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix }))).Uploads ?? []).map(u => [u.Key, u.UploadId])
  t.same(await listed('exports/'), [['exports/b.zip', kept]])
  t.same(await listed(), [
    ['elsewhere.zip', other],
    ['exports/b.zip', kept]
  ])
})
