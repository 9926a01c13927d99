/**
 * Where /sync writes and what it records: a destination is one segment, so no
 * run reaches into another vault's keys, and a run for a vault the account
 * does not have records no vault.
 */
import t from 'tap'
import { emptyVault } from '../../scripts/lib/obsidian-stand-in.ts'
import { syncBed } from '../fixtures/sync.ts'

t.test("a destination prefix that would reach into another vault's files is 400, and nothing is written", async t => {
  const bed = await syncBed(t)
  bed.vault.put('notes/x.md', "vault-1's own note")
  t.equal((await bed.sync({ sync_type: 'complete' })).status, 'succeeded')
  const other = await emptyVault('notes', 'other password')
  other.put('x.md', 'written over vault-1')
  bed.service.vaults.set(other.id, other)
  // vaults/vault-1 + vault notes + x.md would be vault-1's notes/x.md.
  const res = await bed.api.post('/sync', {
    sync_type: 'complete',
    vault_id: 'notes',
    dest_prefix: 'vaults/vault-1',
    vault_password: 'other password'
  })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'VALIDATION_FAILED')
  const objects = await bed.objects('')
  t.same([...objects.keys()], ['vaults/vault-1/notes/x.md'])
  t.equal(objects.get('vaults/vault-1/notes/x.md')!.body.toString(), "vault-1's own note")
  t.equal((await bed.api.get('/sync/vaults/notes/files?dest_prefix=vaults/vault-1')).statusCode, 400)
  // The engine holds to the rule for runs that do not come through the route (the command line, the schedule).
  t.equal(bed.app.sync.runs.target(undefined, 'one-segment').prefix, 'one-segment')
  t.throws(() => bed.app.sync.runs.target(undefined, 'vaults/vault-1'), { code: 'SYNC_DEST_PREFIX_INVALID' })
})

t.test('a run for a vault the account does not have leaves no row in GET /sync/vaults', async t => {
  const bed = await syncBed(t)
  const before = (await bed.api.get('/sync/vaults')).json().vaults
  for (const id of ['made-up-1', 'made-up-2']) {
    const run = await bed.sync({ sync_type: 'incremental', vault_id: id })
    t.equal(run.status, 'failed')
    t.match(run.result.errors[0], /does not exist or this account cannot reach it/)
  }
  t.same((await bed.api.get('/sync/vaults')).json().vaults, before)
})
