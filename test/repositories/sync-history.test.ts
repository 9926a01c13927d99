import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  PutObjectCommand,
  type S3Client
} from '@aws-sdk/client-s3'
import t from 'tap'
import { createAwsClients } from '../../src/aws/clients.ts'
import { createMissingStorage } from '../../src/local/bootstrap.ts'
import { SyncHistoryRepository } from '../../src/repositories/sync-history.ts'
import { SyncVaultsRepository } from '../../src/repositories/sync-vaults.ts'
import { vaultKeyPrefix } from '../../src/repositories/sync-paths.ts'
import { testConfig, type TestTap } from '../helper.ts'

/** A repository on fresh storage whose listings come two entries a page, so a key's versions straddle pages. */
async function bed(t: TestTap) {
  const config = await testConfig()
  const { s3, dynamodb } = createAwsClients(config)
  t.teardown(() => {
    s3.destroy()
    dynamodb.destroy()
  })
  const vaults = new SyncVaultsRepository({ dynamodb, table: config.tables.sync })
  const history = new SyncHistoryRepository({ s3, bucket: config.buckets.sync, vaults, listPageSize: 2 })
  const vaultId = `v-${randomUUID().slice(0, 8)}`
  const prefix = vaultKeyPrefix('vaults', vaultId)
  return { s3, vaults, history, Bucket: config.buckets.sync, vaultId, prefix }
}

const put = async (s3: S3Client, Bucket: string, Key: string, body: string, sha256: string, mtime: number) =>
  (
    await s3.send(
      new PutObjectCommand({ Bucket, Key, Body: body, Metadata: { sha256, mtime: String(mtime), 'sync-time': '' } })
    )
  ).VersionId!

const collect = async <T>(items: AsyncIterable<T>): Promise<T[]> => {
  const all: T[] = []
  for await (const item of items) all.push(item)
  return all
}

t.test('the sync bucket is versioned wherever the bootstrap creates it, and only it', async t => {
  const { s3, Bucket } = await bed(t)
  t.equal((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status, 'Enabled')
  const config = await testConfig()
  t.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: config.buckets.assets }))).Status, undefined)
})

t.test('a sync bucket an older start created without versioning is versioned at the next', async t => {
  const config = await testConfig()
  const { s3, dynamodb } = createAwsClients(config)
  dynamodb.destroy()
  t.teardown(() => s3.destroy())
  const older = `test-older-sync-${randomUUID().slice(0, 8)}`
  await s3.send(new CreateBucketCommand({ Bucket: older }))
  await createMissingStorage({ ...config, buckets: { ...config.buckets, sync: older } })
  t.equal((await s3.send(new GetBucketVersioningCommand({ Bucket: older }))).Status, 'Enabled')
})

t.test(
  'versions and deletions within one second, straddling listing pages: each key at its newest, history newest first',
  async t => {
    const { s3, history, Bucket, prefix } = await bed(t)
    const a1 = await put(s3, Bucket, `${prefix}a.md`, 'a one', 'sha-a1', 1)
    const a2 = await put(s3, Bucket, `${prefix}a.md`, 'a two', 'sha-a2', 2)
    const aGone = (await s3.send(new DeleteObjectCommand({ Bucket, Key: `${prefix}a.md` }))).VersionId!
    const b1 = await put(s3, Bucket, `${prefix}b/b.md`, 'b one', 'sha-b1', 3)
    const c1 = await put(s3, Bucket, `${prefix}c.md`, 'c one', 'sha-c1', 4)
    const cGone = (await s3.send(new DeleteObjectCommand({ Bucket, Key: `${prefix}c.md` }))).VersionId!
    const c2 = await put(s3, Bucket, `${prefix}c.md`, 'c again', 'sha-c2', 5)
    // Put there by hand, never by a sync: no vault path, so never listed.
    await put(s3, Bucket, `${prefix}d//e.md`, 'odd', 'sha-odd', 6)
    // Another vault's, sharing the first letters of the prefix.
    await put(s3, Bucket, `${prefix.slice(0, -1)}x/a.md`, 'other vault', 'sha-x', 7)

    const now = Date.now() + 1000
    const files = await collect(history.filesAsOf(Bucket, prefix, now))
    t.same(
      files,
      [
        { path: 'b/b.md', size: 5, sha256: 'sha-b1', mtime: 3, s3_key: `${prefix}b/b.md`, version_id: b1 },
        { path: 'c.md', size: 7, sha256: 'sha-c2', mtime: 5, s3_key: `${prefix}c.md`, version_id: c2 }
      ],
      'a deleted file is not there, an undeleted one is at its newest version'
    )

    const a = await history.history(Bucket, `${prefix}a.md`)
    t.same(
      a.map(v => [v.version_id, v.deleted, v.size, v.sha256, v.mtime]),
      [
        [aGone, true, null, null, null],
        [a2, false, 5, 'sha-a2', 2],
        [a1, false, 5, 'sha-a1', 1]
      ]
    )
    t.ok(
      a.every(v => v.time % 1000 === 0 && Math.abs(v.time - Date.now()) < 60_000),
      'times to the second'
    )
    t.same(
      (await history.history(Bucket, `${prefix}c.md`)).map(v => v.version_id),
      [c2, cGone, c1]
    )
    t.same(await history.history(Bucket, `${prefix}never.md`), [])

    const first = await history.historyPage(Bucket, `${prefix}a.md`, 2)
    t.same(
      first.versions.map(v => v.version_id),
      [aGone, a2]
    )
    const second = await history.historyPage(Bucket, `${prefix}a.md`, 2, first.cursor!)
    t.same(
      second.versions.map(v => v.version_id),
      [a1]
    )
    t.equal(second.cursor, null)

    t.same(await history.fileAsOf(Bucket, `${prefix}a.md`, now), undefined, 'deleted at that moment')
    t.equal((await history.fileAsOf(Bucket, `${prefix}c.md`, now))?.version_id, c2)

    const opened = await history.open(Bucket, `${prefix}a.md`, a1)
    t.equal(Buffer.concat(await collect(opened.body)).toString(), 'a one', "an old version's bytes")
    t.match(opened, { size: 5, sha256: 'sha-a1', mtime: 1 })

    const before = await history.filesAsOf(Bucket, prefix, now - 60_000).next()
    t.equal(before.done, true, 'nothing before the first write')
  }
)

t.test('a page of files at a moment, by path, and its cursor', async t => {
  const { s3, history, Bucket, prefix } = await bed(t)
  for (const path of ['n/1.md', 'n/2.md', 'n/3.md', 'o.md']) await put(s3, Bucket, `${prefix}${path}`, path, 'h', 0)
  await put(s3, Bucket, `${prefix}n/2.md`, 'changed', 'h2', 1)
  const asOf = Date.now() + 1000
  const pages: string[][] = []
  let cursor: string | undefined
  do {
    const page = await history.filesPage(Bucket, prefix, asOf, { pathPrefix: 'n/', limit: 2, cursor })
    pages.push(page.files.map(f => f.path))
    cursor = page.cursor ?? undefined
  } while (cursor !== undefined)
  t.same(pages, [['n/1.md', 'n/2.md'], ['n/3.md']])
  const other = (await history.filesPage(Bucket, prefix, asOf, { pathPrefix: '', limit: 2 })).cursor!
  await t.rejects(history.filesPage(Bucket, prefix, asOf, { pathPrefix: 'o', limit: 2, cursor: other }), {
    code: 'INVALID_CURSOR'
  })
})

t.test('a version that is still current is described by the index, without a HEAD of each file', async t => {
  const { s3, vaults, history, Bucket, prefix, vaultId } = await bed(t)
  const versionId = await put(s3, Bucket, `${prefix}a.md`, 'a', 'sha-object', 1)
  const target = { bucket: Bucket, prefix: 'vaults' }
  const entry = { path: 'a.md', size: 1, sha256: 'sha-index', mtime: 9, s3Key: `${prefix}a.md`, uid: 1, runId: 'r' }
  await vaults.putFile(vaultId, target, { ...entry, versionId })
  t.match(await collect(history.filesAsOf(Bucket, prefix, Date.now() + 1000)), [{ sha256: 'sha-index', mtime: 9 }])
  await vaults.putFile(vaultId, target, { ...entry, versionId: 'another' })
  t.match(
    await collect(history.filesAsOf(Bucket, prefix, Date.now() + 1000)),
    [{ sha256: 'sha-object', mtime: 1 }],
    'an index entry of another version is not taken for this one'
  )
})

t.test('a moment in the past costs a HEAD per file changed since, not per file', async t => {
  const { s3, vaults, history, Bucket, prefix, vaultId } = await bed(t)
  let heads = 0
  s3.middlewareStack.add(
    next => async args => {
      if ((args.input as { VersionId?: string }).VersionId !== undefined && 'Key' in (args.input as object)) heads++
      return await next(args)
    },
    { step: 'initialize', name: 'countVersionReads' }
  )
  const target = { bucket: Bucket, prefix: 'vaults' }
  const write = async (path: string, body: string) => {
    const versionId = await put(s3, Bucket, `${prefix}${path}`, body, `sha-${body}`, 1)
    const entry = { path, size: body.length, sha256: `sha-${body}`, mtime: 1, s3Key: `${prefix}${path}`, uid: 1 }
    await vaults.putFile(vaultId, target, { ...entry, versionId, runId: 'r' })
  }
  for (let i = 0; i < 6; i++) await write(`n${i}.md`, `first ${i}`)
  await sleep(1100)
  const between = Date.now()
  await sleep(1100)
  await write('n2.md', 'second 2')

  heads = 0
  const past = await collect(history.filesAsOf(Bucket, prefix, between))
  t.equal(past.find(f => f.path === 'n2.md')?.sha256, 'sha-first 2')
  t.equal(heads, 1, 'one HEAD: the version replaced since')
  heads = 0
  t.equal((await collect(history.filesAsOf(Bucket, prefix, Date.now() + 1000))).length, 6)
  t.equal(heads, 0, 'now: every version is a current one, described by the index')
})
