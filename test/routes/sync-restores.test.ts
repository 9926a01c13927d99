/**
 * POST /sync/restores end to end: a vault backed up from the stand-in, changed,
 * backed up again, and restored as it was between the two runs into a new
 * vault, read back through our own client byte for byte; a dry run; a restore
 * whose slices end after every upload, with connections cut and a
 * continuation delivered twice; the scope and the refusals.
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb'
import t from 'tap'
import { continuationEvent, continuationOf } from '../../src/aws/lambda-events.ts'
import { generateApiKey } from '../../src/auth/api-keys.ts'
import { poll } from '../../src/core/poll.ts'
import { ObsidianClient } from '../../src/sync/obsidian/index.ts'
import type { SyncLauncher } from '../../src/sync/launcher.ts'
import type { SliceRunners } from '../../src/sync/run-kinds.ts'
import { pushCounts } from '../../scripts/lib/obsidian-stand-in-uploads.ts'
import { account, momentBetweenBackups, syncBed, syncKey, type SyncBed } from '../fixtures/sync.ts'
import { differences, foldersOf, readBack, sampleFiles, type SampleFile } from '../fixtures/restore.ts'
import { injectAs } from '../helper.ts'

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

const TARGET_PASSWORD = 'restored pässword'
const restoreKey = generateApiKey('restore', ['sync:run', 'sync:read', 'sync:restore'])
const keys = JSON.stringify([syncKey.entry, restoreKey.entry])

async function waitForRestore(api: ReturnType<typeof injectAs>, restoreId: string): Promise<Json> {
  const ended = await poll(
    async () => {
      const res = await api.get(`/sync/restores/${restoreId}`)
      if (res.statusCode !== 200) throw new Error(`GET restore: ${res.statusCode} ${res.body}`)
      const restore = res.json()
      return ['succeeded', 'failed', 'partial'].includes(restore.status) ? restore : undefined
    },
    { intervalMs: 50, timeoutMs: 100_000 }
  )
  if (ended === undefined) throw new Error(`restore ${restoreId} did not end`)
  return ended
}

/** The files put in the vault before its first backup. */
/** POST /sync/restores of the bed's vault, with the rest of the body as given. */
async function startRestore(
  restorer: ReturnType<typeof injectAs>,
  bed: SyncBed,
  body: Record<string, unknown>,
  query = ''
): Promise<Awaited<ReturnType<ReturnType<typeof injectAs>['post']>>> {
  return await restorer.post(`/sync/restores${query}`, { vault_id: bed.vault.id, ...body })
}

function putAll(bed: SyncBed, files: SampleFile[]): void {
  for (const file of files) bed.vault.put(file.path, file.content, file.mtime)
}

/** The account's vaults and a token, through our own client. */
async function signedIn(bed: SyncBed): Promise<{ client: ObsidianClient; token: string }> {
  const client = new ObsidianClient({ apiUrl: bed.service.url })
  return { client, token: (await client.signIn(account)).token }
}

t.test('a vault as it was between two backups, restored into new vaults of both encryptions', async t => {
  const bed = await syncBed(t, { env: { API_KEYS: keys } })
  const restorer = injectAs(bed.app, restoreKey.key)
  const before = sampleFiles()
  putAll(bed, before)
  const between = await momentBetweenBackups(t, bed, () => {
    bed.vault.put('Welcome.md', 'rewritten since')
    bed.vault.remove('README')
    bed.vault.put('created since.md', 'new')
  })

  const { client, token } = await signedIn(bed)
  for (const encryption of ['end-to-end', 'standard'] as const) {
    const res = await startRestore(restorer, bed, {
      as_of: new Date(between).toISOString(),
      target_name: `Restored ${encryption}`,
      encryption,
      ...(encryption === 'end-to-end' ? { target_password: TARGET_PASSWORD } : {})
    })
    t.equal(res.statusCode, 202, res.body)
    t.equal(res.headers.location, `/sync/restores/${res.json().restore_id}`)
    const restore = await waitForRestore(bed.api, res.json().restore_id)
    t.match(restore, {
      status: 'succeeded',
      files_count: before.length,
      uploaded: before.length,
      skipped: 0,
      errors: 0,
      target_vault_id: String,
      dry_run: false
    })
    const vault = (await client.vaults(token)).find(v => v.id === restore.target_vault_id)
    t.ok(vault, 'a new vault in the account')
    t.equal(vault!.name, `Restored ${encryption}`)
    const read = await readBack(client, token, vault!, encryption === 'end-to-end' ? { password: TARGET_PASSWORD } : {})
    t.same(differences(read, before), [], `${encryption}: every file of that moment, byte for byte`)
    t.same([...read.folders].sort(), [...foldersOf(before)].sort(), 'with its folders')
  }

  // The first backup's moment is restorable; before it there is nothing.
  const early = await startRestore(restorer, bed, {
    as_of: String(between - 60_000),
    target_name: 'Too early',
    encryption: 'standard'
  })
  t.equal(early.statusCode, 400)
  t.equal(early.json().code, 'AS_OF_OUT_OF_RANGE')
})

t.test('a dry run counts what it would upload and creates nothing; refusals create nothing', async t => {
  const bed = await syncBed(t, { env: { API_KEYS: keys } })
  const restorer = injectAs(bed.app, restoreKey.key)
  const files = sampleFiles().slice(0, 4)
  putAll(bed, files)
  t.equal((await bed.sync()).status, 'succeeded')
  const { client, token } = await signedIn(bed)
  const vaultsBefore = (await client.vaults(token)).map(v => v.id)

  const dry = await startRestore(
    restorer,
    bed,
    {
      target_name: 'Dry',
      encryption: 'end-to-end',
      dry_run: true
    },
    '?wait=20'
  )
  t.equal(dry.statusCode, 200, dry.body)
  t.match(dry.json(), {
    status: 'succeeded',
    dry_run: true,
    target_vault_id: null,
    files_count: files.length,
    uploaded: files.length
  })

  const noPassword = await startRestore(restorer, bed, {
    target_name: 'No password',
    encryption: 'end-to-end'
  })
  t.equal(noPassword.statusCode, 400)
  t.equal(noPassword.json().code, 'SYNC_RESTORE_PASSWORD_MISSING')
  const never = await restorer.post('/sync/restores', {
    vault_id: 'never-backed-up',
    target_name: 'Nothing',
    encryption: 'standard'
  })
  t.equal(never.json().code, 'AS_OF_OUT_OF_RANGE', 'a vault never backed up has nothing to restore')
  const half = await startRestore(restorer, bed, {
    target_name: 'Half an account',
    encryption: 'standard',
    email: account.email
  })
  t.equal(half.json().code, 'SYNC_CREDENTIALS_INCOMPLETE', 'the account fields as POST /sync takes them')

  const forbidden = await bed.api.post('/sync/restores', {
    vault_id: bed.vault.id,
    target_name: 'Not allowed',
    encryption: 'standard'
  })
  t.equal(forbidden.statusCode, 403, 'sync:run and sync:read do not reach a restore')
  t.equal(forbidden.json().code, 'FORBIDDEN')

  t.same(
    (await client.vaults(token)).map(v => v.id),
    vaultsBefore,
    'no vault created'
  )
  t.equal(bed.service.received.size, 0, 'nothing uploaded')
  const missing = await bed.api.get('/sync/restores/0190f5c2-7d4e-7000-8000-000000000000')
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'SYNC_RESTORE_NOT_FOUND')
})

/**
 * Each slice runs to a deadline already past, so it ends after its first
 * upload; hop 3's continuation is delivered twice (as Lambda delivers an event
 * again after a killed invocation): both chains go on, one after the other.
 */
function slicePerUpload() {
  let running: Promise<void> = Promise.resolve()
  let duplicated = false
  const ran = { restoreSlices: 0 }
  /** Every restore continuation, as the Lambda function would receive it. */
  const events: Array<ReturnType<typeof continuationEvent>> = []
  const factory = (slices: SliceRunners): SyncLauncher => ({
    launch: async next => {
      const deliveries = next.kind === 'restore' && next.hop === 3 && !duplicated ? 2 : 1
      if (deliveries === 2) duplicated = true
      if (next.kind === 'restore') events.push(continuationEvent(next))
      for (let i = 0; i < deliveries; i++)
        running = running.then(async () => {
          if (next.kind === 'restore') ran.restoreSlices++
          await slices.run(next, next.kind === 'restore' ? 0 : Date.now() + 60_000)
        })
    },
    close: async () => await idle()
  })
  const idle = async (): Promise<void> => {
    for (let last: Promise<void> | undefined; last !== running;) {
      last = running
      await last
    }
  }
  return { factory, idle, ran, events, duplicated: () => duplicated }
}

t.test('a restore across many slices, connections cut and a slice delivered twice: each path once', async t => {
  const launcher = slicePerUpload()
  const logs: string[] = []
  const bed = await syncBed(t, {
    env: { API_KEYS: keys, SYNC_MAX_HOPS: '100' },
    build: { sync: { launcher: launcher.factory }, logStream: { write: line => void logs.push(line) } }
  })
  const restorer = injectAs(bed.app, restoreKey.key)
  const files = sampleFiles().filter(f => f.content.length < 1024 * 1024)
  files.push(sampleFiles().find(f => f.path === 'Media/big video.mp4')!)
  putAll(bed, files)
  t.equal((await bed.sync()).status, 'succeeded')

  bed.service.cue({ kind: 'drop-push', at: 'metadata' })
  bed.service.cue({ kind: 'drop-push', at: 'piece' })
  bed.service.cue({ kind: 'drop-push', at: 'stored' })
  const res = await startRestore(restorer, bed, {
    target_name: 'Sliced',
    encryption: 'end-to-end',
    target_password: TARGET_PASSWORD
  })
  t.equal(res.statusCode, 202, res.body)
  const restore = await waitForRestore(bed.api, res.json().restore_id)
  await launcher.idle()
  t.match(restore, { status: 'succeeded', files_count: files.length, uploaded: files.length, skipped: 0, errors: 0 })
  t.ok(launcher.duplicated(), 'a continuation was delivered twice')
  t.ok(launcher.ran.restoreSlices >= files.length, `one upload a slice: ${launcher.ran.restoreSlices} slices`)

  const counts = pushCounts(bed.service.received, restore.target_vault_id)
  t.equal(counts.size, files.length + foldersOf(files).size, 'every file and folder stored')
  t.ok(
    [...counts.values()].every(n => n === 1),
    'none stored twice'
  )
  const { client, token } = await signedIn(bed)
  const vault = (await client.vaults(token)).find(v => v.id === restore.target_vault_id)!
  t.same(differences(await readBack(client, token, vault, { password: TARGET_PASSWORD }), files), [])
  // The target password and the run's session travel in the continuation events, and nowhere else.
  const runToken = launcher.events[1]?.token
  t.type(runToken, 'string')
  t.ok(
    launcher.events.every(e => e.kind === 'restore' && e.target_password === TARGET_PASSWORD),
    'every continuation carries the target password'
  )
  t.equal(continuationOf(launcher.events[1]!).targetPassword, TARGET_PASSWORD, 'and reads back from the event')
  const stored = JSON.stringify(await bed.clients.dynamodb.send(new ScanCommand({ TableName: bed.config.tables.sync })))
  t.ok(stored.includes(restore.restore_id), 'the scan sees the restore')
  for (const secret of [TARGET_PASSWORD, runToken as string, account.password]) {
    t.notOk(stored.includes(secret), 'no password or token in the sync table')
    t.notOk(
      logs.some(line => line.includes(secret)),
      'nor in any log line'
    )
  }
  t.equal(
    (await client.vaults(token)).filter(v => v.name === 'Sliced').length,
    1,
    'one vault created, whatever the slices'
  )
})

t.test('a restore no slice works on any more ends failed, interrupted, once a lease has passed', async t => {
  const bed = await syncBed(t, {
    env: { API_KEYS: keys, SYNC_LEASE_MS: '3000' },
    build: {
      sync: {
        // Sync runs as usual; a restore's first slice is lost, as a continuation never delivered would be.
        launcher: slices => ({
          launch: async next => {
            if (next.kind !== 'restore') void slices.run(next, Date.now() + 60_000)
          },
          close: async () => {}
        })
      }
    }
  })
  const restorer = injectAs(bed.app, restoreKey.key)
  bed.vault.put('a.md', 'a')
  t.equal((await bed.sync()).status, 'succeeded')
  const res = await startRestore(restorer, bed, {
    target_name: 'Lost',
    encryption: 'standard'
  })
  t.equal(res.statusCode, 202)
  t.equal((await bed.api.get(`/sync/restores/${res.json().restore_id}`)).json().status, 'queued')
  const ended = await waitForRestore(bed.api, res.json().restore_id)
  t.equal(ended.status, 'failed')
  t.match(ended.messages, [/^Interrupted: no slice has worked on the restore/])
})

t.test('a restore that needs more than SYNC_MAX_HOPS slices ends failed, signed out', async t => {
  let running: Promise<void> = Promise.resolve()
  const bed = await syncBed(t, {
    env: { API_KEYS: keys, SYNC_MAX_HOPS: '2' },
    build: {
      sync: {
        // A restore's slices end after their first upload.
        launcher: slices => ({
          launch: async next => {
            running = running.then(() => slices.run(next, next.kind === 'restore' ? 0 : Date.now() + 60_000))
          },
          close: async () => await running
        })
      }
    }
  })
  const restorer = injectAs(bed.app, restoreKey.key)
  for (const name of ['a', 'b', 'c', 'd']) bed.vault.put(`${name}.md`, name)
  t.equal((await bed.sync()).status, 'succeeded')
  const signOuts = bed.service.calls.get('/user/signout') ?? 0
  const res = await startRestore(restorer, bed, {
    target_name: 'Long',
    encryption: 'standard',
    // Keys nothing: a standard vault's key is the service's password, in every slice.
    target_password: 'not the key'
  })
  const ended = await waitForRestore(bed.api, res.json().restore_id)
  t.match(ended, { status: 'failed', uploaded: 2, messages: [/after 2 slices \(SYNC_MAX_HOPS\)/] })
  await running
  t.equal(bed.service.calls.get('/user/signout'), signOuts + 1, "the restore's session ended")
  const { client, token } = await signedIn(bed)
  const vault = (await client.vaults(token)).find(v => v.id === ended.target_vault_id)!
  const read = await readBack(client, token, vault, {})
  t.same([...read.files.keys()].sort(), ['a.md', 'b.md'], 'what the two slices uploaded, readable with its key')
})
