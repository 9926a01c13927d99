/**
 * How a vault's sync uses the service and the bucket: one connection per
 * vault (replaced when it breaks), vaults side by side, renames, a complete
 * run that repairs the bucket, and what each object carries.
 */
import { createHash } from 'node:crypto'
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import t from 'tap'
import { emptyVault } from '../../scripts/lib/obsidian-stand-in.ts'
import { backedUp, sampleVault, syncBed, VAULT_PASSWORD, type Expected } from '../fixtures/sync.ts'

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

t.test(
  'one connection (one init) per vault per run, several vaults at once, SYNC_VAULT_CONCURRENCY at most',
  async t => {
    const vaults = await Promise.all(['v-a', 'v-b', 'v-c'].map(id => emptyVault(id, VAULT_PASSWORD)))
    const bed = await syncBed(t, {
      vaults,
      env: {
        SYNC_PULL_CONCURRENCY: '4',
        SYNC_VAULT_CONCURRENCY: '2',
        OBSIDIAN_VAULT_PASSWORDS: JSON.stringify(Object.fromEntries(vaults.map(v => [v.id, VAULT_PASSWORD])))
      }
    })
    for (const vault of vaults) {
      for (let i = 0; i < 12; i++) vault.put(`notes/${i}.md`, `${vault.id} note ${i}`)
      vault.put('big.bin', Buffer.alloc(6 * 1024 * 1024, 5))
    }
    // Slow pulls, so vaults synced one after another could not look concurrent by chance.
    bed.service.delays.pullMs = 20
    const run = await bed.sync({ sync_type: 'complete' })
    t.equal(run.status, 'succeeded', JSON.stringify(run.result?.errors))
    t.same(Object.fromEntries(bed.service.inits), { 'v-a': 1, 'v-b': 1, 'v-c': 1 }, 'one init per vault')
    t.equal(bed.service.sessions.max, 2, 'two vaults at once, each on one connection')
    for (const vault of vaults) t.equal(bed.service.pulls.get(vault.id)?.length, 13)

    for (const vault of vaults) for (let i = 0; i < 5; i++) vault.put(`notes/${i}.md`, `edited ${i}`)
    bed.service.inits.clear()
    const incremental = await bed.sync({ sync_type: 'incremental' })
    t.equal(incremental.status, 'succeeded', JSON.stringify(incremental.result?.errors))
    t.same(Object.fromEntries(bed.service.inits), { 'v-a': 1, 'v-b': 1, 'v-c': 1 }, 'incremental too')
  }
)

t.test('a connection that breaks mid-pull is replaced, and the other files in flight carry on', async t => {
  const bed = await syncBed(t, { env: { SYNC_PULL_CONCURRENCY: '4' } })
  const expected = await sampleVault(bed, 10)
  bed.service.cue({ kind: 'drop-mid-pull' })
  const run = await bed.sync({ sync_type: 'complete' })
  t.equal(run.status, 'succeeded', JSON.stringify(run.result?.errors))
  t.same((await backedUp(bed, expected)).problems, [])
  t.equal(bed.service.inits.get(bed.vault.id), 2, 'the first connection and the one in its place')
})

t.test('a rename (the old path deleted, the new pushed with relatedpath) moves the object in one run', async t => {
  const bed = await syncBed(t)
  bed.vault.put('notes/old name.md', 'renamed content')
  bed.vault.put('keep.md', 'kept')
  await bed.sync({ sync_type: 'complete' })
  bed.vault.rename('notes/old name.md', 'archive/new name.md', 'renamed content')
  const incremental = await bed.sync({ sync_type: 'incremental' })
  t.equal(incremental.status, 'succeeded', JSON.stringify(incremental.result?.errors))
  t.match(incremental.vaults[0], { files_pulled: 1, files_deleted: 1 })
  const expected: Expected = new Map([
    ['archive/new name.md', Buffer.from('renamed content')],
    ['keep.md', Buffer.from('kept')]
  ])
  t.same((await backedUp(bed, expected)).problems, [], 'the old object went, the new one appeared')

  // Renamed back and forth before a complete run sees it: the vault as it is now.
  bed.vault.rename('archive/new name.md', 'notes/old name.md', 'renamed content')
  bed.vault.rename('keep.md', 'kept.md', 'kept')
  const complete = await bed.sync({ sync_type: 'complete' })
  t.equal(complete.status, 'succeeded', JSON.stringify(complete.result?.errors))
  const now: Expected = new Map([
    ['notes/old name.md', Buffer.from('renamed content')],
    ['kept.md', Buffer.from('kept')]
  ])
  t.same((await backedUp(bed, now)).problems, [])
})

t.test('a complete run puts back objects deleted or overwritten in the bucket behind the index', async t => {
  const bed = await syncBed(t)
  const expected = await sampleVault(bed, 4)
  await bed.sync({ sync_type: 'complete' })
  const bucket = bed.config.buckets.sync
  await bed.clients.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'vaults/vault-1/notes/1.md' }))
  await bed.clients.s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: 'vaults/vault-1/notes/2.md', Body: 'overwritten by hand' })
  )
  const pulls = () => bed.service.pulls.get(bed.vault.id)?.length ?? 0
  const before = pulls()
  const incremental = await bed.sync({ sync_type: 'incremental' })
  t.equal(pulls(), before, 'an incremental run reads only the changes')
  t.match(incremental.vaults[0], { files_seen: 0 })
  const complete = await bed.sync({ sync_type: 'complete' })
  t.equal(complete.status, 'succeeded', JSON.stringify(complete.result?.errors))
  t.equal(pulls() - before, 2, 'exactly the two files pulled again')
  t.match(complete.vaults[0], { files_pulled: 2, files_skipped: expected.size - 2 })
  t.same((await backedUp(bed, expected)).problems, [], 'both back, byte for byte')
})

t.test("each object's metadata: the plaintext's sha256, the file's mtime and the sync's time", async t => {
  const bed = await syncBed(t)
  bed.vault.put('a.md', 'a', 1_700_000_000_000)
  const before = Date.now()
  await bed.sync({ sync_type: 'complete' })
  const { metadata } = (await bed.objects()).get('vaults/vault-1/a.md')!
  t.equal(metadata.sha256, sha('a'))
  t.equal(metadata.mtime, '1700000000000')
  const syncTime = Date.parse(metadata['sync-time']!)
  t.match(metadata['sync-time'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  t.ok(syncTime >= before - 1000 && syncTime <= Date.now(), 'when it was written')
})

t.test('a file the service holds no hash of is pulled once: complete runs after it skip it', async t => {
  const bed = await syncBed(t)
  bed.vault.putWithoutHash('no hash.md', 'the service holds no hash of this one')
  bed.vault.put('hashed.md', 'this one has its hash')
  const first = await bed.sync({ sync_type: 'complete' })
  t.equal(first.status, 'succeeded', JSON.stringify(first.result?.errors))
  const pulls = () => bed.service.pulls.get(bed.vault.id)?.length ?? 0
  const before = pulls()
  const again = await bed.sync({ sync_type: 'complete' })
  t.equal(again.status, 'succeeded', JSON.stringify(again.result?.errors))
  t.equal(pulls(), before, 'nothing pulled again')
  t.match(again.vaults[0], { files_pulled: 0, files_skipped: 2 })
  const { body } = (await bed.objects()).get('vaults/vault-1/no hash.md')!
  t.equal(String(body), 'the service holds no hash of this one')
})
