import { ScanCommand } from '@aws-sdk/client-dynamodb'
import { CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3'
import t from 'tap'
import { syncBed, trackedLauncher, waitForRun } from '../fixtures/sync.ts'

const itemsIn = async (bed: Awaited<ReturnType<typeof syncBed>>) =>
  (await bed.clients.dynamodb.send(new ScanCommand({ TableName: bed.config.tables.sync }))).Items ?? []

t.test('POST /sync?wait= answers the result when the run ends in time, else 202 with where to look', async t => {
  const bed = await syncBed(t)
  bed.vault.put('a.md', 'a')
  const done = await bed.api.post('/sync?wait=20', { sync_type: 'complete' })
  t.equal(done.statusCode, 200)
  t.match(done.json(), {
    run_id: String,
    success: true,
    vaults_synced: ['vault-1'],
    files_count: 1,
    duration: /^\d+\.\d{3}s$/,
    errors: [],
    details: { sync_type: 'complete', dest_bucket: bed.config.buckets.sync, dest_prefix: 'vaults', lambda_memory: null }
  })
  const queued = await bed.api.post('/sync', { sync_type: 'incremental' })
  t.equal(queued.statusCode, 202)
  t.match(queued.json(), { run_id: String, status: 'queued' })
  t.equal(queued.headers.location, `/sync/runs/${queued.json().run_id}`)
  await waitForRun(bed.api, queued.json().run_id)
})

t.test('concurrent POSTs for one vault: one run, and a 409 naming it for every other', async t => {
  const tracked = trackedLauncher()
  const bed = await syncBed(t, { build: { sync: { launcher: tracked.factory } } })
  bed.vault.put('a.md', 'a')
  const answers = await Promise.all(
    Array.from({ length: 6 }, () => bed.api.post('/sync', { vault_id: 'vault-1', sync_type: 'incremental' }))
  )
  const accepted = answers.filter(a => a.statusCode === 202)
  const refused = answers.filter(a => a.statusCode === 409)
  t.equal(accepted.length, 1, 'one run')
  t.equal(refused.length, 5)
  const runId = accepted[0]!.json().run_id
  for (const r of refused) {
    t.match(r.json(), { statusCode: 409, code: 'SYNC_IN_PROGRESS', run_id: runId })
    t.equal(r.headers.location, `/sync/runs/${runId}`)
  }
  await tracked.idle()
  const runs = (await bed.api.get('/sync/runs')).json().runs
  t.equal(runs.length, 1, 'only one run was recorded')
  t.equal((await waitForRun(bed.api, runId)).status, 'succeeded')
  const next = await bed.api.post('/sync', { vault_id: 'vault-1', sync_type: 'incremental' })
  t.equal(next.statusCode, 202, 'once it has ended, the vault is free again')
  await tracked.idle()
})

t.test('a destination bucket outside SYNC_ALLOWED_BUCKETS is 403 and nothing runs', async t => {
  const bed = await syncBed(t)
  bed.vault.put('a.md', 'a')
  const refused = await bed.api.post('/sync', { sync_type: 'complete', dest_bucket: 'someone-elses-bucket' })
  t.equal(refused.statusCode, 403)
  t.equal(refused.json().code, 'SYNC_BUCKET_NOT_ALLOWED')
  t.same(await itemsIn(bed), [], 'nothing was stored')
  t.equal(bed.service.pulls.size, 0, 'nothing was pulled')
  t.equal((await bed.api.get('/sync/vaults/vault-1/files?dest_bucket=someone-elses-bucket')).statusCode, 403)
})

t.test('an allowed bucket and prefix of the request are where the files go, and where reads look', async t => {
  const other = `sync-extra-${Date.now()}`
  const bed = await syncBed(t, { env: { SYNC_ALLOWED_BUCKETS: other } })
  await bed.clients.s3.send(new CreateBucketCommand({ Bucket: other }))
  bed.vault.put('notes/a.md', 'in the other bucket')
  const run = await bed.sync({ sync_type: 'complete', dest_bucket: other, dest_prefix: 'backups-obsidian' })
  t.equal(run.status, 'succeeded')
  const object = await bed.clients.s3.send(
    new GetObjectCommand({ Bucket: other, Key: 'backups-obsidian/vault-1/notes/a.md' })
  )
  t.equal(await object.Body!.transformToString(), 'in the other bucket')
  const query = `dest_bucket=${other}&dest_prefix=backups-obsidian`
  const files = (await bed.api.get(`/sync/vaults/vault-1/files?${query}`)).json().files
  t.match(files, [{ path: 'notes/a.md', s3_key: 'backups-obsidian/vault-1/notes/a.md' }])
  t.same((await bed.api.get('/sync/vaults/vault-1/files')).json().files, [], 'the default destination has nothing')
  const download = await bed.api.get(`/sync/vaults/vault-1/files/download?path=notes/a.md&${query}`)
  t.equal(download.statusCode, 200)
  t.equal(await (await fetch(download.json().url)).text(), 'in the other bucket')
})

t.test('bad input is 400 with nothing stored', async t => {
  const bed = await syncBed(t, { env: { OBSIDIAN_EMAIL: '', OBSIDIAN_PASSWORD: '' } })
  const cases: Array<[unknown, string]> = [
    [{ sync_type: 'everything' }, 'VALIDATION_FAILED'],
    [{}, 'VALIDATION_FAILED'],
    [{ sync_type: 'complete', dest_prefix: '../up' }, 'VALIDATION_FAILED'],
    [{ sync_type: 'complete', dest_prefix: '/abs' }, 'VALIDATION_FAILED'],
    [{ sync_type: 'complete', vault_id: 'a/b' }, 'VALIDATION_FAILED'],
    [{ sync_type: 'complete', vault_id: '..' }, 'VALIDATION_FAILED'],
    [{ sync_type: 'complete', dest_prefix: 'backups/obsidian' }, 'VALIDATION_FAILED'],
    [{ sync_type: 'complete', email: 'ada@example.com' }, 'SYNC_CREDENTIALS_INCOMPLETE'],
    [{ sync_type: 'complete', totp_secret: 'JBSWY3DPEHPK3PXP' }, 'SYNC_CREDENTIALS_INCOMPLETE'],
    [{ sync_type: 'complete' }, 'SYNC_ACCOUNT_MISSING'],
    [{ sync_type: 'complete', extra: 1 }, 'VALIDATION_FAILED']
  ]
  for (const [body, code] of cases) {
    const res = await bed.api.post('/sync', body)
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.equal(res.json().code, code)
  }
  t.equal((await bed.api.post('/sync?wait=26', { sync_type: 'complete' })).statusCode, 400, 'wait is at most 25')
  t.same(await itemsIn(bed), [], 'nothing was stored')
})

t.test('runs: newest first, paginated; one run with its progress; 404 for an unknown one', async t => {
  const bed = await syncBed(t)
  bed.vault.put('a.md', 'a')
  const ids = []
  for (let i = 0; i < 3; i++) ids.push((await bed.sync({ sync_type: 'incremental' })).run_id)
  const first = (await bed.api.get('/sync/runs?limit=2')).json()
  t.same(
    first.runs.map((r: { run_id: string }) => r.run_id),
    [ids[2], ids[1]]
  )
  const second = (await bed.api.get(`/sync/runs?limit=2&cursor=${first.cursor}`)).json()
  t.same(
    second.runs.map((r: { run_id: string }) => r.run_id),
    [ids[0]]
  )
  t.equal(second.cursor, null)
  const run = (await bed.api.get(`/sync/runs/${ids[0]}`)).json()
  t.match(run, {
    run_id: ids[0],
    status: 'succeeded',
    trigger: 'api',
    created_at: /^\d{4}-\d\d-\d\dT/,
    finished_at: /^\d{4}-/,
    vaults: [{ vault_id: 'vault-1', name: 'Notes', status: 'succeeded', files_pulled: 1, bytes: 1 }],
    result: { success: true }
  })
  const missing = await bed.api.get('/sync/runs/01900000-0000-7000-8000-000000000000')
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'SYNC_RUN_NOT_FOUND')
  const forged = Buffer.from(JSON.stringify({ pk: 'RUNS', sk: 'not a run id' })).toString('base64url')
  t.equal((await bed.api.get(`/sync/runs?cursor=${forged}`)).statusCode, 400, 'a forged cursor')
})

t.test('files: by path, with a prefix, paginated; a presigned download of the backed-up bytes', async t => {
  const bed = await syncBed(t)
  for (const path of ['a.md', 'notes/b.md', 'notes/c.md', 'notes/d.md', 'z.md'])
    bed.vault.put(path, `content of ${path}`)
  await bed.sync({ sync_type: 'complete' })
  const page = (await bed.api.get('/sync/vaults/vault-1/files?prefix=notes/&limit=2')).json()
  t.same(
    page.files.map((f: { path: string }) => f.path),
    ['notes/b.md', 'notes/c.md']
  )
  t.match(page.files[0], { size: 21, sha256: /^[0-9a-f]{64}$/, mtime: Number, s3_key: 'vaults/vault-1/notes/b.md' })
  const rest = (await bed.api.get(`/sync/vaults/vault-1/files?prefix=notes/&limit=2&cursor=${page.cursor}`)).json()
  t.same(
    rest.files.map((f: { path: string }) => f.path),
    ['notes/d.md']
  )
  const elsewhere = await bed.api.get(`/sync/vaults/vault-1/files?prefix=z&cursor=${page.cursor}`)
  t.equal(elsewhere.statusCode, 400, "a cursor from another prefix's list")
  const download = (await bed.api.get('/sync/vaults/vault-1/files/download?path=notes/c.md')).json()
  t.match(download, { url: String, expiresAt: Number })
  const served = await fetch(download.url)
  t.equal(await served.text(), 'content of notes/c.md')
  // As /assets: a vault's SVG or HTML is a download, never a page on the bucket's origin. S3 answers with the
  // disposition the signed URL asks for; moto ignores it, so the answer is checked where the engine honours it.
  const disposition = "attachment; filename*=UTF-8''c.md"
  t.equal(new URL(download.url).searchParams.get('response-content-disposition'), disposition)
  if (process.env.AWS_ENDPOINT_URL_S3 === undefined) t.equal(served.headers.get('content-disposition'), disposition)
  const missing = await bed.api.get('/sync/vaults/vault-1/files/download?path=nope.md')
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'SYNC_FILE_NOT_FOUND')
})

t.test('a path or prefix longer than any key is simply not there', async t => {
  const bed = await syncBed(t)
  const long = '😀'.repeat(300)
  const list = await bed.api.get(`/sync/vaults/vault-1/files?prefix=${encodeURIComponent(long)}`)
  t.equal(list.statusCode, 200)
  t.same(list.json(), { files: [], cursor: null })
  const download = await bed.api.get(`/sync/vaults/vault-1/files/download?path=${encodeURIComponent(long)}`)
  t.equal(download.statusCode, 404)
})

t.test('GET /sync/vaults answers with what is recorded when the account cannot sign in', async t => {
  const bed = await syncBed(t)
  bed.vault.put('a.md', 'a')
  await bed.sync({ sync_type: 'complete' })
  bed.service.accounts[0]!.password = 'changed since'
  const res = await bed.api.get('/sync/vaults')
  t.equal(res.statusCode, 200)
  t.match(res.json().vaults, [{ vault_id: 'vault-1', name: 'Notes', shared: null, file_count: 1 }])
})
