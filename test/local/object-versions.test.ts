import { randomUUID } from 'node:crypto'
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type ListObjectVersionsCommandOutput,
  type S3Client
} from '@aws-sdk/client-s3'
import t from 'tap'
import { createAwsClients } from '../../src/aws/clients.ts'
import { motoAvailable, startMoto } from '../fixtures/moto.ts'
import { testConfig, type TestTap } from '../helper.ts'

// What restores read from the versioned sync bucket, as S3 does it: the embedded S3 and moto agree.
const engines: Array<[string, () => Promise<NodeJS.ProcessEnv>]> = [["the test engine's S3", async () => ({})]]
if (!process.env.AWS_ENDPOINT_URL_S3 && motoAvailable()) {
  let moto: Promise<string> | undefined
  engines.push(['moto', async () => ({ AWS_ENDPOINT_URL_S3: await (moto ??= startMoto(t)) })])
}

async function versionedBucket(t: TestTap, env: NodeJS.ProcessEnv): Promise<{ s3: S3Client; Bucket: string }> {
  const config = await testConfig(env)
  const { s3, dynamodb } = createAwsClients(config)
  dynamodb.destroy()
  t.teardown(() => s3.destroy())
  const Bucket = config.buckets.sync
  await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }))
  return { s3, Bucket }
}

const read = async (s3: S3Client, input: { Bucket: string; Key: string; VersionId?: string }) =>
  await (await s3.send(new GetObjectCommand(input))).Body!.transformToString()

const failure = async (promise: Promise<unknown>) =>
  await promise.then(
    () => 'no error',
    (err: { name: string; $metadata?: { httpStatusCode?: number } }) => `${err.$metadata?.httpStatusCode} ${err.name}`
  )

for (const [engine, envOf] of engines) {
  t.test(`${engine}: put twice, delete, list the versions, read an old one, undelete`, async t => {
    const { s3, Bucket } = await versionedBucket(t, await envOf())
    const prefix = `vaults/${randomUUID()}/`
    const Key = `${prefix}${'日'.repeat(80)}.md`
    const first = await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'one' }))
    const second = await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'two' }))
    await s3.send(new PutObjectCommand({ Bucket, Key: `${prefix}other.md`, Body: 'other' }))
    await s3.send(new PutObjectCommand({ Bucket, Key: `elsewhere/${randomUUID()}`, Body: 'not listed' }))
    t.ok(first.VersionId && second.VersionId && first.VersionId !== second.VersionId, 'each put is a version')
    t.equal(await read(s3, { Bucket, Key }), 'two')

    const deleted = await s3.send(new DeleteObjectCommand({ Bucket, Key }))
    t.equal(deleted.DeleteMarker, true, 'a delete without a version leaves a delete marker')
    t.ok(deleted.VersionId)
    t.equal(await failure(s3.send(new GetObjectCommand({ Bucket, Key }))), '404 NoSuchKey')
    t.equal(await failure(s3.send(new HeadObjectCommand({ Bucket, Key }))), '404 NotFound')
    const listed = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: prefix }))
    t.same(
      (listed.Contents ?? []).map(o => o.Key),
      [`${prefix}other.md`],
      'a deleted key is not listed'
    )

    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket, Prefix: prefix }))
    const mine = (versions.Versions ?? []).filter(v => v.Key === Key)
    t.same(
      mine.map(v => [v.VersionId, v.IsLatest, v.Size]),
      [
        [second.VersionId, false, 3],
        [first.VersionId, false, 3]
      ],
      'versions newest first, none the latest'
    )
    t.same(
      (versions.DeleteMarkers ?? []).map(m => [m.Key, m.VersionId, m.IsLatest]),
      [[Key, deleted.VersionId, true]]
    )
    t.same(
      (versions.Versions ?? []).map(v => v.Key).filter(k => !k!.startsWith(prefix)),
      [],
      'only the prefix'
    )

    t.equal(await read(s3, { Bucket, Key, VersionId: first.VersionId }), 'one', 'an old version reads back')
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key, VersionId: first.VersionId }))
    t.equal(head.ContentLength, 3)
    t.equal(head.VersionId, first.VersionId)
    // S3 answers 405 MethodNotAllowed (the embedded S3 too); moto 404 NoSuchVersion.
    t.match(
      await failure(s3.send(new GetObjectCommand({ Bucket, Key, VersionId: deleted.VersionId }))),
      /^(405 MethodNotAllowed|404 NoSuchVersion)$/,
      'a delete marker has no bytes'
    )

    await s3.send(new DeleteObjectCommand({ Bucket, Key, VersionId: deleted.VersionId }))
    t.equal(await read(s3, { Bucket, Key }), 'two', 'removing the marker brings the object back')
    await s3.send(new DeleteObjectCommand({ Bucket, Key, VersionId: second.VersionId }))
    t.equal(await read(s3, { Bucket, Key }), 'one', 'removing a version for good')
  })

  t.test(`${engine}: versions page by key and version markers`, async t => {
    const { s3, Bucket } = await versionedBucket(t, await envOf())
    const prefix = `vaults/${randomUUID()}/`
    const written: string[] = []
    for (const name of ['a', 'b'])
      for (const body of ['1', '2', '3']) {
        const put = await s3.send(new PutObjectCommand({ Bucket, Key: `${prefix}${name}`, Body: body }))
        written.push(`${name}:${put.VersionId}`)
      }
    await s3.send(new DeleteObjectCommand({ Bucket, Key: `${prefix}a` }))
    const seen: string[] = []
    let page: ListObjectVersionsCommandOutput | undefined
    let pages = 0
    do {
      page = await s3.send(
        new ListObjectVersionsCommand({
          Bucket,
          Prefix: prefix,
          MaxKeys: 2,
          KeyMarker: page?.NextKeyMarker,
          VersionIdMarker: page?.NextVersionIdMarker
        })
      )
      pages++
      for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])])
        seen.push(`${v.Key!.slice(prefix.length)}:${v.VersionId}`)
    } while (page.IsTruncated)
    t.equal(pages, 4, '7 entries, 2 a page')
    t.equal(seen.length, 7)
    t.same(seen.filter(s => !s.startsWith('a:') || written.includes(s)).length, 6, 'each version once, and the marker')
    t.same(new Set(seen).size, 7, 'nothing twice')
  })
}
