import t from 'tap'
import { motoAvailable, startMoto } from '../fixtures/moto.ts'
import { backedUp, syncBed, type Expected } from '../fixtures/sync.ts'

// Vault names past a file system's 255 bytes a segment: S3 takes them (up to 1,024 bytes a key), so the backup does.
const engines: Array<[string, () => Promise<NodeJS.ProcessEnv>]> = [["the test engine's S3", async () => ({})]]
if (!process.env.AWS_ENDPOINT_URL_S3 && motoAvailable()) {
  let moto: Promise<string> | undefined
  engines.push(['moto', async () => ({ AWS_ENDPOINT_URL_S3: await (moto ??= startMoto(t)) })])
}

for (const [engine, envOf] of engines) {
  t.test(`${engine}: a vault holding names past 255 bytes backs up, run after run`, async t => {
    const bed = await syncBed(t, { env: await envOf() })
    const expected: Expected = new Map([
      // An ordinary Japanese title of 80 characters: 240 bytes.
      [`日記/${'日'.repeat(80)}.md`, Buffer.from('# 日記\n')],
      // A single segment of 903 bytes, the key still under S3's 1,024.
      [`${'長'.repeat(300)}.md`, Buffer.from('long')],
      // Large enough to go up in parts.
      [`${'添'.repeat(80)}.bin`, Buffer.alloc(5 * 1024 * 1024 + 1, 3)],
      ['short.md', Buffer.from('short')]
    ])
    bed.vault.folder('日記')
    for (const [path, content] of expected) bed.vault.put(path, content)

    const first = await bed.sync({ sync_type: 'complete' })
    t.equal(first.status, 'succeeded', JSON.stringify(first.result?.errors))
    t.same(await backedUp(bed, expected), { ok: true, problems: [] })

    const edited = Buffer.from('# 日記\n\nedited')
    expected.set(`日記/${'日'.repeat(80)}.md`, edited)
    bed.vault.put(`日記/${'日'.repeat(80)}.md`, edited)
    const second = await bed.sync({ sync_type: 'incremental' })
    t.equal(second.status, 'succeeded', JSON.stringify(second.result?.errors))
    t.same(await backedUp(bed, expected), { ok: true, problems: [] }, 'the next run too')

    const health = await bed.app.inject({ method: 'GET', url: '/health?deep=1' })
    t.equal(health.statusCode, 200, health.body)
  })
}
