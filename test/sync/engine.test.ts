import { createHash } from 'node:crypto'
import t from 'tap'
import { syncBed } from '../fixtures/sync.ts'

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

t.test('complete then incremental: edit, add, delete, rename, unicode, empty and 5 MiB files', async t => {
  const bed = await syncBed(t)
  const { vault } = bed
  const big = Buffer.alloc(5 * 1024 * 1024 + 123, 7)
  vault.folder('notes')
  vault.put('notes/hello.md', '# Hello')
  vault.put('notes/old name.md', 'to be renamed')
  vault.put('daily/2026-12-01 ünïcødé ✓.md', 'unicode')
  vault.put('empty.md', '')
  vault.put('attachments/big.bin', big)
  vault.put('gone.md', 'will be deleted')

  const first = await bed.sync({ sync_type: 'complete' })
  t.equal(first.status, 'succeeded', JSON.stringify(first.result?.errors))
  t.match(first.vaults[0], { vault_id: vault.id, status: 'succeeded', files_pulled: 6, files_skipped: 0 })
  let objects = await bed.objects()
  t.same([...objects.keys()].sort(), [
    'vaults/vault-1/attachments/big.bin',
    'vaults/vault-1/daily/2026-12-01 ünïcødé ✓.md',
    'vaults/vault-1/empty.md',
    'vaults/vault-1/gone.md',
    'vaults/vault-1/notes/hello.md',
    'vaults/vault-1/notes/old name.md'
  ])
  t.ok(objects.get('vaults/vault-1/attachments/big.bin')!.body.equals(big), 'the 5 MiB file, byte for byte')
  t.equal(objects.get('vaults/vault-1/empty.md')!.body.length, 0)
  t.equal(objects.get('vaults/vault-1/notes/hello.md')!.metadata.sha256, sha('# Hello'))

  vault.put('notes/hello.md', '# Hello, again')
  vault.put('new.md', 'added')
  vault.remove('gone.md')
  vault.remove('notes/old name.md')
  vault.put('notes/new name.md', 'to be renamed')
  const pullsBefore = bed.service.pulls.get(vault.id)?.length ?? 0
  const second = await bed.sync({ sync_type: 'incremental' })
  t.equal(second.status, 'succeeded')
  t.match(second.vaults[0], { files_pulled: 3, files_deleted: 2 })
  t.equal((bed.service.pulls.get(vault.id)?.length ?? 0) - pullsBefore, 3, 'only the changed files are pulled')
  objects = await bed.objects()
  t.notOk(objects.has('vaults/vault-1/gone.md'))
  t.notOk(objects.has('vaults/vault-1/notes/old name.md'))
  t.equal(objects.get('vaults/vault-1/notes/hello.md')!.body.toString(), '# Hello, again')
  t.equal(objects.get('vaults/vault-1/notes/new name.md')!.body.toString(), 'to be renamed')
  const index = await bed.index()
  t.same(
    index.map(f => f.path),
    [
      'attachments/big.bin',
      'daily/2026-12-01 ünïcødé ✓.md',
      'empty.md',
      'new.md',
      'notes/hello.md',
      'notes/new name.md'
    ]
  )
  const vaults = (await bed.api.get('/sync/vaults')).json().vaults
  t.match(vaults, [
    { vault_id: vault.id, name: 'Notes', file_count: 6, last_synced_version: vault.version, last_error: null }
  ])
})
