import { createHash } from 'node:crypto'
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm'
import t from 'tap'
import { EMULATOR_CREDENTIALS } from '../../src/aws/clients.ts'
import { motoAvailable, startMoto } from '../fixtures/moto.ts'
import { failWritesAfter } from '../fixtures/failing-dynamodb.ts'
import { emptyVault } from '../../scripts/lib/obsidian-stand-in.ts'
import {
  account,
  backedUp,
  sampleVault,
  syncBed,
  trackedLauncher,
  VAULT_PASSWORD,
  type SyncBed
} from '../fixtures/sync.ts'

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

t.test('a tiny SYNC_TIME_BUDGET_MS forces many slices and gives the same bucket and index', async t => {
  const reference = await syncBed(t)
  const expected = await sampleVault(reference)
  const one = await reference.sync({ sync_type: 'complete' })
  t.equal(one.hops, 1, 'with the default budget, one slice')
  t.same((await backedUp(reference, expected)).problems, [])

  const sliced = await syncBed(t, { env: { SYNC_TIME_BUDGET_MS: '1', SYNC_MAX_HOPS: '1000' } })
  await sampleVault(sliced)
  const many = await sliced.sync({ sync_type: 'complete' })
  t.equal(many.status, 'succeeded', JSON.stringify(many.result?.errors))
  t.ok(many.hops > 3, `${many.hops} slices`)
  t.same((await backedUp(sliced, expected)).problems, [])
  const indexOf = async (bed: SyncBed) =>
    (await bed.index()).map(({ path, size, sha256, mtime }) => ({ path, size, sha256, mtime }))
  t.same(
    (await indexOf(sliced)).map(f => ({ ...f, mtime: 0 })),
    (await indexOf(reference)).map(f => ({ ...f, mtime: 0 })),
    'the same index'
  )
  t.match(many.vaults[0], { files_pulled: expected.size, files_skipped: 0 }, 'no file is counted twice across slices')

  // Incremental in slices too: edits and deletions land, and the version only moves past what landed.
  sliced.vault.put('notes/1.md', 'edited')
  sliced.vault.remove('notes/2.md')
  expected.set('notes/1.md', Buffer.from('edited'))
  expected.delete('notes/2.md')
  const incremental = await sliced.sync({ sync_type: 'incremental' })
  t.equal(incremental.status, 'succeeded')
  t.same((await backedUp(sliced, expected)).problems, [])
})

t.test('unchanged files are not pulled again, complete or incremental', async t => {
  const bed = await syncBed(t)
  await sampleVault(bed)
  await bed.sync({ sync_type: 'complete' })
  const pulls = () => bed.service.pulls.get(bed.vault.id)?.length ?? 0
  const before = pulls()
  const again = await bed.sync({ sync_type: 'complete' })
  t.equal(pulls(), before, 'a complete run over an unchanged vault pulls nothing')
  t.match(again.vaults[0], { files_pulled: 0, files_skipped: 9 })
  const incremental = await bed.sync({ sync_type: 'incremental' })
  t.equal(pulls(), before)
  t.match(incremental.vaults[0], { files_seen: 0 })
})

t.test('a complete run removes what the vault no longer has, even what an incremental run missed', async t => {
  const bed = await syncBed(t)
  const expected = await sampleVault(bed, 3)
  await bed.sync({ sync_type: 'complete' })
  // Gone from the service's history altogether (as after the vault was reset): only a complete run can notice.
  bed.vault.records.splice(1, 1) // uid 2: notes/0.md
  expected.delete('notes/0.md')
  const run = await bed.sync({ sync_type: 'complete' })
  t.match(run.vaults[0], { files_deleted: 1, files_pulled: 0 })
  t.same((await backedUp(bed, expected)).problems, [])
})

t.test('a run killed at any write and started again loses nothing', async t => {
  for (const k of [0, 2, 5, 9, 14, 20]) {
    const tracked = trackedLauncher()
    const bed = await syncBed(t, { env: { SYNC_LEASE_MS: '300' }, build: { sync: { launcher: tracked.factory } } })
    const expected = await sampleVault(bed, 6)
    const accepted = await bed.api.post('/sync', { sync_type: 'complete' })
    t.equal(accepted.statusCode, 202)
    const killed = failWritesAfter(bed.app.aws.dynamodb, k)
    await tracked.idle()
    killed.restore()
    const dead = (await bed.api.get(`/sync/runs/${accepted.json().run_id}`)).json()
    // Dead, it shows as it was, or as interrupted once a lease's length has passed without a heartbeat.
    const died = dead.status === 'queued' || dead.status === 'running' || /Interrupted/.test(dead.result?.errors[0])
    if (!died) {
      t.equal(
        dead.status,
        'succeeded',
        `k=${k}: the run got through before the kill: ${JSON.stringify(dead.result?.errors)}`
      )
      continue
    }
    t.ok(tracked.failures.length > 0, `k=${k}: the slice died`)
    await new Promise(resolve => setTimeout(resolve, 350))
    const rerun = await bed.api.post('/sync', { sync_type: 'incremental' })
    t.equal(rerun.statusCode, 202)
    await tracked.idle()
    const after = (await bed.api.get(`/sync/runs/${rerun.json().run_id}`)).json()
    t.equal(after.status, 'succeeded', `k=${k}: ${JSON.stringify(after.result?.errors)}`)
    t.same((await backedUp(bed, expected)).problems, [], `k=${k}: bucket and index converge`)
    const old = (await bed.api.get(`/sync/runs/${accepted.json().run_id}`)).json()
    // Killed after its vault was done and before its own end: it finished, and says so.
    const finished = old.vaults.every((v: { status: string }) => v.status !== 'running')
    if (finished) t.not(old.status, 'running', `k=${k}: the dead run, whose vault was done, has ended`)
    else {
      t.equal(old.status, 'failed', `k=${k}: the dead run ends as interrupted`)
      t.match(old.result.errors.join(' '), /interrupted/i)
    }
  }
})

t.test('a dropped socket mid-pull and a corrupted piece are retried; the file lands whole', async t => {
  const bed = await syncBed(t)
  const expected = await sampleVault(bed, 2)
  bed.service.cue({ kind: 'drop-mid-pull' })
  bed.service.cue({ kind: 'corrupt-piece', piece: 1 })
  const run = await bed.sync({ sync_type: 'complete' })
  t.equal(run.status, 'succeeded', JSON.stringify(run.result?.errors))
  t.same((await backedUp(bed, expected)).problems, [])
})

t.test('a file whose content never matches its hash is reported and never made visible', async t => {
  const bed = await syncBed(t, { env: { SYNC_PULL_CONCURRENCY: '1' } })
  const big = Buffer.alloc(6 * 1024 * 1024, 9)
  bed.vault.put('big.bin', big)
  bed.vault.put('small.md', 'fine')
  // Every pull of the big file is corrupted: the first attempt and its one retry.
  bed.service.cue({ kind: 'corrupt-piece', piece: 2 })
  bed.service.cue({ kind: 'corrupt-piece', piece: 2 })
  const run = await bed.sync({ sync_type: 'complete' })
  t.equal(run.status, 'partial')
  t.match(run.vaults[0], { status: 'partial', error_count: 1, files_pulled: 1 })
  t.match(run.result.errors.join('\n'), /big\.bin.*not written/)
  const objects = await bed.objects()
  t.notOk(objects.has('vaults/vault-1/big.bin'), 'no object for it')
  t.ok(objects.has('vaults/vault-1/small.md'))
  t.same(
    (await bed.index()).map(f => f.path),
    ['small.md']
  )
})

t.test("paths from the service that would leave the vault's prefix are refused and reported", async t => {
  const bed = await syncBed(t)
  const cipher = bed.vault.cipher!
  for (const path of [
    '../escape.md',
    '/etc/passwd',
    'notes/../../up.md',
    'a\u0001b.md',
    'back\\slash.md',
    'notes//x.md'
  ])
    bed.vault.add({
      encPath: cipher.encryptPath(path),
      encHash: cipher.encryptPath(sha('bad')),
      folder: false,
      deleted: false,
      ctime: 0,
      mtime: 0,
      content: cipher.encryptContent(Buffer.from('bad')),
      size: 31
    })
  bed.vault.put('fine.md', 'fine')
  const run = await bed.sync({ sync_type: 'complete' })
  t.equal(run.status, 'partial')
  t.match(run.vaults[0], { error_count: 6, files_pulled: 1 })
  t.equal(run.result.errors.filter((e: string) => /refused/.test(e)).length, 6)
  t.same([...(await bed.objects('')).keys()], ['vaults/vault-1/fine.md'], 'nothing else was written, anywhere')
  t.equal((bed.service.pulls.get(bed.vault.id) ?? []).length, 1, 'refused files are not even pulled')
})

t.test('a wrong encryption password fails the vault at once, with a clear error', async t => {
  const bed = await syncBed(t, { env: { OBSIDIAN_VAULT_PASSWORDS: JSON.stringify({ 'vault-1': 'not it' }) } })
  bed.vault.put('a.md', 'a')
  const started = Date.now()
  const run = await bed.sync({ sync_type: 'incremental' })
  t.ok(Date.now() - started < 5000, 'no retries')
  t.equal(run.status, 'failed')
  t.match(run.result.errors.join(' '), /encryption password/)
  t.same([...(await bed.objects()).keys()], [])
  const vaults = (await bed.api.get('/sync/vaults')).json().vaults
  t.match(vaults[0], { last_error: /encryption password/, last_success_at: null })
})

t.test('bad account credentials and a refused two-factor code fail the run with what to fix', async t => {
  const mfa = { email: 'grace@example.com', password: 'pw', totpSecret: 'JBSWY3DPEHPK3PXPJBSWY3DP' }
  const bed = await syncBed(t, { accounts: [account, mfa] })
  bed.vault.put('a.md', 'a')
  const wrong = await bed.sync({ sync_type: 'incremental', email: account.email, password: 'nope' })
  t.equal(wrong.status, 'failed')
  t.match(wrong.result.errors[0], /Sign-in failed: Obsidian refused the email or password/)
  const noCode = await bed.sync({ sync_type: 'incremental', email: mfa.email, password: mfa.password })
  t.match(noCode.result.errors[0], /two-factor authentication: configure its TOTP secret/)
  const badCode = await bed.sync({
    sync_type: 'incremental',
    email: mfa.email,
    password: mfa.password,
    totp_secret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'
  })
  t.match(badCode.result.errors[0], /refused the two-factor code/)
  const good = await bed.sync({
    sync_type: 'incremental',
    email: mfa.email,
    password: mfa.password,
    totp_secret: mfa.totpSecret,
    vault_password: VAULT_PASSWORD
  })
  t.equal(good.status, 'succeeded', 'the right code signs in')
})

t.test('every vault of the account, shared ones included, with one password each', async t => {
  const second = await emptyVault('shared-vault', 'second password', 2, 'Shared with me')
  const first = await emptyVault('vault-1', VAULT_PASSWORD, 3, 'Notes')
  const bed = await syncBed(t, {
    vaults: [first, second],
    env: {
      OBSIDIAN_VAULT_PASSWORDS: JSON.stringify({ 'vault-1': VAULT_PASSWORD, 'Shared with me': 'second password' })
    }
  })
  bed.service.shared.add(second.id)
  first.put('a.md', 'a')
  second.put('b.md', 'b')
  const run = await bed.sync({ sync_type: 'incremental' })
  t.equal(run.status, 'succeeded', JSON.stringify(run.result?.errors))
  t.same(run.result.vaults_synced.sort(), ['shared-vault', 'vault-1'])
  t.same([...(await bed.objects()).keys()].sort(), ['vaults/shared-vault/b.md', 'vaults/vault-1/a.md'])
  const vaults = (await bed.api.get('/sync/vaults')).json().vaults
  t.match(
    vaults.find((v: { vault_id: string }) => v.vault_id === 'shared-vault'),
    { shared: true, file_count: 1 }
  )
})

t.test(
  'the account from OBSIDIAN_SECRET (Secrets Manager, or SSM), read once',
  { skip: motoAvailable() ? false : 'moto_server is not installed' },
  async t => {
    const endpoint = await startMoto(t)
    const aws = { region: 'us-east-1', endpoint, credentials: EMULATOR_CREDENTIALS }
    const secrets = new SecretsManagerClient(aws)
    const ssm = new SSMClient(aws)
    t.teardown(() => {
      secrets.destroy()
      ssm.destroy()
    })
    const settings = {
      email: account.email,
      password: account.password,
      vault_passwords: { Notes: VAULT_PASSWORD }
    }
    await secrets.send(new CreateSecretCommand({ Name: 'atlas/obsidian', SecretString: JSON.stringify(settings) }))
    await ssm.send(
      new PutParameterCommand({ Name: '/atlas/obsidian', Type: 'SecureString', Value: JSON.stringify(settings) })
    )
    for (const name of ['atlas/obsidian', 'ssm:/atlas/obsidian']) {
      const bed = await syncBed(t, {
        env: {
          OBSIDIAN_EMAIL: '',
          OBSIDIAN_PASSWORD: '',
          OBSIDIAN_VAULT_PASSWORDS: '',
          OBSIDIAN_SECRET: name,
          AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
          AWS_ENDPOINT_URL_SSM: endpoint
        }
      })
      bed.vault.put('a.md', 'a')
      const run = await bed.sync({ sync_type: 'incremental' })
      t.equal(run.status, 'succeeded', `${name}: ${JSON.stringify(run.result?.errors)}`)
    }
  }
)
