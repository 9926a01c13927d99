/**
 * The kill test: a restore interrupted at every k-th upload (the session
 * closed at once, as a killed process's would be: before a file's first
 * piece, midway through its pieces, or just after it was acknowledged) and
 * started again on the same vault, until one runs to its end; the service
 * also cuts connections itself (on a push's metadata, after its first piece,
 * and once it stored one, before its echo). Every path must have been stored
 * exactly once, and the vault must read back whole.
 */
import { Readable } from 'node:stream'
import t from 'tap'
import { ObsidianClient } from '../../../src/sync/obsidian/index.ts'
import { restoreUpload, type RestoreCounts, type RestoreEntry } from '../../../src/sync/restore-upload.ts'
import { startFakeObsidian, type FakeObsidian } from '../../../scripts/lib/obsidian-stand-in.ts'
import { pushCounts } from '../../../scripts/lib/obsidian-stand-in-uploads.ts'
import { differences, foldersOf, readBack, restoreFile, sampleFiles, type SampleFile } from '../../fixtures/restore.ts'

const account = { email: 'ada@example.com', password: 'account pässword', name: 'Ada' }
const PASSWORD = 'kill-test pässword'
const K = 2

let service: FakeObsidian
t.before(async () => {
  service = await startFakeObsidian({ accounts: [account] })
})
t.teardown(() => service.close())

/** How an attempt is killed at its k-th upload. */
type Kill = 'before-first-piece' | 'mid-pieces' | 'after-acknowledged'
const KILLS: Kill[] = ['before-first-piece', 'mid-pieces', 'after-acknowledged']

/**
 * The entries of one attempt: the k-th file whose content the service asks
 * for is where a `before-first-piece` or `mid-pieces` kill lands (a file too
 * small for a second piece is killed after its content was read, before its
 * only piece).
 */
function entries(files: SampleFile[], kill: Kill, abort: () => void): AsyncIterable<RestoreEntry> {
  let opened = 0
  return (async function* () {
    for (const file of files) {
      yield restoreFile(file, async () => {
        opened++
        if (opened !== K || kill === 'after-acknowledged') return Buffer.from(file.content)
        if (kill === 'before-first-piece') {
          abort()
          return Buffer.from(file.content)
        }
        return Readable.from(
          (async function* () {
            const half = Math.max(1, Math.min(file.content.length - 1, 3 * 1024 * 1024))
            yield file.content.subarray(0, half)
            abort()
            yield file.content.subarray(half)
          })()
        )
      })
    }
  })()
}

t.test(
  `killed at every k-th upload (k = ${K}) and started again, each path is stored once and the vault is whole`,
  async t => {
    const files = sampleFiles()
    const client = new ObsidianClient({ apiUrl: service.url, device: 'restorer' })
    const { token } = await client.signIn(account)
    const { vault, cipher } = await client.createVault({
      token,
      name: 'Killed',
      encryption: 'end-to-end',
      password: PASSWORD
    })
    const open = async () => await client.openVault({ token, vault, cipher })

    const killed = new Error('killed')
    const tally: Record<string, number> = {}
    let final: RestoreCounts | undefined
    let attempts = 0
    for (let attempt = 0; final === undefined; attempt++) {
      attempts++
      t.ok(attempt < 40, 'the restore ends')
      if (attempt >= 40) return
      const kill = KILLS[attempt % KILLS.length]!
      // Every fourth attempt the service, too, cuts a connection at each point of a push.
      if (attempt % 4 === 3)
        for (const at of ['metadata', 'piece', 'stored'] as const) service.cue({ kind: 'drop-push', at })
      const controller = new AbortController()
      const abort = () => controller.abort(killed)
      let uploads = 0
      try {
        final = await restoreUpload({
          entries: entries(files, kill, abort),
          open,
          signal: controller.signal,
          onProgress: p => {
            if (p.action === 'uploaded' && ++uploads === K && kill === 'after-acknowledged') abort()
          }
        })
      } catch (err) {
        if (err !== killed) throw err
        tally[kill] = (tally[kill] ?? 0) + 1
      }
    }
    t.ok(Object.keys(tally).length === KILLS.length, `killed ${JSON.stringify(tally)} times, every way`)
    // One session per attempt, and one more after each connection the service cut.
    t.ok(service.inits.get(vault.id)! > attempts, 'the service cut connections too, and the restore went on')

    const stored = new Map(
      [...pushCounts(service.received, vault.id)].map(([path, n]) => [cipher.decryptPath(path), n] as const)
    )
    const expected = [...files.map(f => f.path), ...foldersOf(files)]
    t.same([...stored.keys()].sort(), expected.sort(), 'every file and folder stored')
    t.same(
      [...stored].filter(([, n]) => n !== 1),
      [],
      'none twice'
    )
    t.match(final, { files_count: files.length, errors: 0 })
    t.equal(final!.uploaded + final!.skipped, files.length, 'the last attempt skipped what the others uploaded')
    const read = await readBack(client, token, vault, { password: PASSWORD })
    t.same(differences(read, files), [], 'read back whole, byte for byte')
  }
)
