/**
 * A standard-encryption vault through POST /sync: no password configured for
 * it, its key from the password the service lists, its names and hashes (some
 * wrapping the SIV counter, as written by an independent implementation)
 * read, and the password nowhere in what the app stores or answers.
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb'
import t from 'tap'
import { backedUp, syncBed, type Expected } from '../../fixtures/sync.ts'
import {
  bigPlaintext,
  sivCounterWraps,
  vectors,
  vectorVault,
  wrappingPath
} from '../../../scripts/lib/obsidian-stand-in.ts'

const standard = vectors.vaults.find(v => v.standard === true)!

function liveFiles(): Expected {
  const live: Expected = new Map()
  for (const r of standard.records) {
    if (r.deleted) live.delete(r.path)
    else if (!r.folder)
      live.set(r.path, r.generated === 'big' ? bigPlaintext(r.size) : Buffer.from(r.content!, 'base64'))
  }
  return live
}

t.test('a standard vault backs up byte for byte, complete and incremental, with no password configured', async t => {
  const vault = await vectorVault(standard)
  // Found before anything connects: the search blocks for a moment.
  const path = wrappingPath(vault.cipher!)
  const bed = await syncBed(t, { vaults: [vault], env: { OBSIDIAN_VAULT_PASSWORDS: '{}' } })
  t.ok(
    standard.records.some(r => sivCounterWraps(r.encPath)) &&
      standard.records.some(r => r.encHash !== '' && sivCounterWraps(r.encHash)),
    'the vault holds a path and a hash field whose SIV counter wraps'
  )
  const expected = liveFiles()
  const complete = await bed.sync({ sync_type: 'complete' })
  t.match(complete, { status: 'succeeded' }, JSON.stringify(complete.errors ?? complete))
  t.same((await backedUp(bed, expected)).problems, [], 'every file, byte for byte')

  bed.vault.put(path, 'added later, under a wrapping name')
  bed.vault.putIvOnly('empty, as an IV.md')
  bed.vault.putWithoutHash('no hash field.md', 'the service holds no hash of this one')
  expected.set(path, Buffer.from('added later, under a wrapping name'))
  expected.set('empty, as an IV.md', Buffer.alloc(0))
  expected.set('no hash field.md', Buffer.from('the service holds no hash of this one'))
  const incremental = await bed.sync({ sync_type: 'incremental' })
  t.match(incremental, { status: 'succeeded' }, JSON.stringify(incremental.errors ?? incremental))
  t.same((await backedUp(bed, expected)).problems, [], 'and what came after')

  const answers = [
    (await bed.api.get('/sync/vaults')).body,
    (await bed.api.get('/sync/runs')).body,
    (await bed.api.get(`/sync/runs/${complete.run_id}`)).body
  ]
  for (const table of [bed.config.tables.sync]) {
    const items = (await bed.clients.dynamodb.send(new ScanCommand({ TableName: table }))).Items ?? []
    answers.push(JSON.stringify(items))
  }
  for (const text of answers)
    t.notOk(text.includes(standard.password), 'the listed password is neither stored nor returned')
})

t.test("a vault_password in the request still wins over the service's", async t => {
  const bed = await syncBed(t, { vaults: [await vectorVault(standard)], env: { OBSIDIAN_VAULT_PASSWORDS: '{}' } })
  const run = await bed.sync({ sync_type: 'complete', vault_password: 'not the listed one' })
  t.not(run.status, 'succeeded')
  t.match(JSON.stringify(run), /check its encryption password/)
  t.equal(bed.service.pulls.size, 0, 'nothing was pulled with the wrong key')
})
