/**
 * The run's Obsidian session: one sign-in per run, whatever its slices, and a
 * sign-out at its end; GET /sync/vaults signs in and out too; no two sign-ins
 * of a process send the same two-factor code (the service takes a code once).
 */
import t from 'tap'
import { account, syncBed } from '../fixtures/sync.ts'

const totpSecret = 'JBSWY3DPEHPK3PXPJBSWY3DP'

t.test('a run of many slices signs in once and out at its end; its slices share the token', async t => {
  const bed = await syncBed(t, {
    accounts: [{ ...account, totpSecret }],
    env: { OBSIDIAN_TOTP_SECRET: totpSecret, SYNC_TIME_BUDGET_MS: '1', SYNC_MAX_HOPS: '1000' }
  })
  for (let i = 0; i < 8; i++) bed.vault.put(`notes/${i}.md`, `note ${i}`)
  const run = await bed.sync({ sync_type: 'complete' })
  t.equal(run.status, 'succeeded', JSON.stringify(run.result?.errors))
  t.ok(run.hops > 2, `${run.hops} slices`)
  t.equal(bed.service.calls.get('/user/signin'), 1, 'one sign-in for the whole run')
  t.equal(bed.service.calls.get('/user/signout'), 1, 'and one sign-out, at its end')
})

t.test('GET /sync/vaults signs in and out, and a run right after it does not reuse its two-factor code', async t => {
  const bed = await syncBed(t, {
    accounts: [{ ...account, totpSecret }],
    env: { OBSIDIAN_TOTP_SECRET: totpSecret }
  })
  bed.vault.put('a.md', 'a')
  t.equal((await bed.api.get('/sync/vaults')).statusCode, 200)
  t.equal(bed.service.calls.get('/user/signin'), 1)
  t.equal(bed.service.calls.get('/user/signout'), 1, 'the listing signed out again')
  const run = await bed.sync({ sync_type: 'complete' })
  t.equal(run.status, 'succeeded', JSON.stringify(run.result?.errors))
  t.equal(bed.service.calls.get('/user/signin'), 2)
  t.equal(bed.service.calls.get('/user/signout'), 2)
})

t.test('GET /sync/vaults answers within seconds when the service hangs, from the list it last got', async t => {
  const bed = await syncBed(t)
  t.match((await bed.api.get('/sync/vaults')).json().vaults, [{ vault_id: 'vault-1', name: 'Notes' }])
  bed.service.delays.restMs = 120_000
  const started = Date.now()
  const res = await Promise.race([
    bed.api.get('/sync/vaults'),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 15 s')), 15_000).unref())
  ])
  t.ok(Date.now() - started < 15_000, `answered after ${Date.now() - started} ms`)
  t.equal(res.statusCode, 200)
  t.match(res.json().vaults, [{ vault_id: 'vault-1', name: 'Notes', shared: false }], 'the cached list')
})
