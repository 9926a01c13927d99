/**
 * Uploads against the stand-in, one behaviour at a time: the echo taken as
 * the acknowledgement in either order and seen by every client on the vault,
 * content the service holds never read, a source that fails or lies, a
 * refusal, a file over the service's limit, an abort mid-upload; and the
 * content encryptor against the whole-file one.
 */
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import t from 'tap'
import { ObsidianClient, vaultCipher, type Push, type VaultSession } from '../../../src/sync/obsidian/index.ts'
import { restoreUpload, type RestoreProgress } from '../../../src/sync/restore-upload.ts'
import { startFakeObsidian, type FakeObsidian } from '../../../scripts/lib/obsidian-stand-in.ts'
import { differences, readBack, restoreFile, sampleFiles, sha256 } from '../../fixtures/restore.ts'

const account = { email: 'ada@example.com', password: 'account pässword', name: 'Ada' }

let service: FakeObsidian
t.before(async () => {
  service = await startFakeObsidian({ accounts: [account] })
})
t.teardown(() => service.close())

/** A new standard vault: sessions on it as a restore opens them (`open`), or with its files read (`ready`). */
async function target(name: string) {
  const client = new ObsidianClient({ apiUrl: service.url, device: 'restorer' })
  const { token } = await client.signIn(account)
  const { vault, cipher } = await client.createVault({ token, name, encryption: 'standard' })
  const open = async (): Promise<VaultSession> => await client.openVault({ token, vault, cipher })
  const ready = async (): Promise<VaultSession> => {
    const session = await open()
    for await (const event of session.pushes()) if (event.kind !== 'push') throw event.error
    return session
  }
  return { client, token, vault, cipher, open, ready, pushed: () => service.received.get(vault.id) ?? [] }
}

const file = (path: string, content: string | Buffer) =>
  restoreFile({ path, content: Buffer.from(content), mtime: Date.UTC(2026, 0, 1) })

for (const echo of ['before-answer', 'after-answer'] as const) {
  t.test(
    `the echo is the acknowledgement, sent ${echo} the last answer; every client on the vault sees it`,
    async t => {
      service.settings.echo = echo
      t.teardown(() => {
        service.settings.echo = 'before-answer'
      })
      const { ready, vault } = await target(`Echo ${echo}`)
      const uploader = await ready()
      const watcher = await ready()
      const seen: Push[] = []
      watcher.onChange(event => {
        if (event.kind === 'push') seen.push(event.push)
      })
      const big = Buffer.alloc(5 * 1024 * 1024, 7)
      const folder = await uploader.upload({ folder: true, path: 'Folder' })
      const small = await uploader.upload(file('Folder/note.md', 'hello'))
      const large = await uploader.upload(file('Folder/big.bin', big))
      t.match(folder, { path: 'Folder', folder: true, deleted: false })
      t.match(small, { path: 'Folder/note.md', hash: sha256(Buffer.from('hello')), folder: false, size: 5 + 28 })
      t.match(large, { path: 'Folder/big.bin', hash: sha256(big), size: big.length + 28 })
      t.same(
        [folder.uid, small.uid, large.uid],
        service.vaults.get(vault.id)!.records.map(r => r.uid),
        "each upload returns its change's uid"
      )
      // The watcher's echoes may still be on their way.
      while (seen.length < 3) await new Promise(resolve => setTimeout(resolve, 10))
      t.same(
        seen.map(p => p.path),
        ['Folder', 'Folder/note.md', 'Folder/big.bin'],
        'the other client was told of each'
      )
      uploader.close()
      watcher.close()
    }
  )
}

t.test('content the service already holds is answered ok and never read; an empty file sends no piece', async t => {
  const { ready, client, token, vault, cipher } = await target('Dedup')
  const session = await ready()
  await session.upload(file('first.md', 'the same words'))
  let opened = 0
  const copy = file('copy.md', 'the same words')
  const empty = file('empty.md', '')
  for (const f of [copy, empty]) {
    const read = f.open
    f.open = async () => {
      opened++
      return await read()
    }
  }
  await session.upload(copy)
  await session.upload(empty)
  t.equal(opened, 0, 'neither source was opened')
  session.close()
  const read = await readBack(client, token, vault, { cipher })
  t.same(read.files.get('copy.md'), Buffer.from('the same words'))
  t.same(read.files.get('empty.md'), Buffer.alloc(0))
})

t.test(
  'a source that is not what its hash or size says, or that fails, stores nothing; the restore goes on',
  async t => {
    const { open, client, token, vault, cipher, pushed } = await target('Bad sources')
    const good = sampleFiles().filter(f => f.content.length > 0 && f.content.length < 1024 * 1024)
    const big = Buffer.alloc(3 * 1024 * 1024, 1)
    const lies = [
      { ...file('wrong hash.md', 'one thing'), sha256: sha256(Buffer.from('another')) },
      { ...file('too long.md', 'twelve bytes'), size: 5 },
      { ...file('too short.md', 'short'), size: 50 },
      {
        // Fails after its first piece went: the service holds a part it must not keep.
        ...file('fails midway.bin', big),
        open: async () =>
          Readable.from(
            (async function* () {
              yield big.subarray(0, 2.5 * 1024 * 1024)
              throw new Error('the backup could not be read')
            })()
          )
      },
      { ...file('cannot open.md', 'x'), open: async () => await Promise.reject(new Error('no such version')) }
    ]
    const progress: RestoreProgress[] = []
    const counts = await restoreUpload({
      entries: (async function* () {
        for (const [i, f] of good.entries()) {
          yield restoreFile(f)
          if (i < lies.length) yield lies[i]!
        }
      })(),
      open,
      onProgress: p => void progress.push(p)
    })
    t.match(counts, { files_count: good.length + lies.length, uploaded: good.length, skipped: 0, errors: lies.length })
    t.same(
      progress.filter(p => p.action === 'failed').map(p => [p.path, p.error?.code]),
      [
        ['wrong hash.md', 'INTEGRITY'],
        ['too long.md', 'INTEGRITY'],
        ['too short.md', 'INTEGRITY'],
        ['fails midway.bin', 'SOURCE'],
        ['cannot open.md', 'SOURCE']
      ]
    )
    const stored = new Set(pushed().map(m => cipher.decryptPath(m.path as string)))
    for (const lie of lies) t.notOk(stored.has(lie.path), `${lie.path}: nothing stored`)
    const read = await readBack(client, token, vault, { cipher })
    t.same(differences(read, good), [], 'the others, whole')
  }
)

t.test("a file over the service's per-file limit is not pushed; one the service refuses is an error", async t => {
  const { open, ready, pushed } = await target('Limits')
  const before = service.settings.perFileMax
  t.teardown(() => {
    service.settings.perFileMax = before
  })
  service.settings.perFileMax = 1000
  const session = await ready()
  await t.rejects(session.upload(file('large.bin', Buffer.alloc(1001))), { code: 'TOO_LARGE' })
  t.equal(pushed().length, 0, 'nothing sent')
  await session.upload(file('fits.bin', Buffer.alloc(1000)))
  session.close()
  // Announced as none (0), the client checks nothing: the service's own check refuses, in its words.
  service.settings.perFileMax = 0
  const progress: RestoreProgress[] = []
  const counts = await restoreUpload({
    entries: (async function* () {
      yield file('refused.bin', Buffer.alloc(100))
      yield file('tiny.md', '')
    })(),
    open,
    onProgress: p => void progress.push(p)
  })
  t.match(counts, { uploaded: 1, errors: 1 })
  t.match(progress[0], { path: 'refused.bin', action: 'failed', error: { code: 'REFUSED', message: /too large/ } })
})

t.test('aborting closes the session mid-upload; the service keeps nothing of that file', async t => {
  const { open, pushed, cipher } = await target('Aborted')
  const controller = new AbortController()
  const big = Buffer.alloc(6 * 1024 * 1024, 2)
  const killed = new Error('killed')
  await t.rejects(
    restoreUpload({
      entries: (async function* () {
        yield file('before.md', 'stored')
        yield {
          ...file('big.bin', big),
          open: async () =>
            Readable.from(
              (async function* () {
                yield big.subarray(0, 3 * 1024 * 1024)
                controller.abort(killed)
                yield big.subarray(3 * 1024 * 1024)
              })()
            )
        }
        yield file('after.md', 'never reached')
      })(),
      open,
      signal: controller.signal
    }),
    killed
  )
  t.same(
    pushed().map(m => cipher.decryptPath(m.path as string)),
    ['before.md'],
    'only what was whole before the abort'
  )
})

t.test('an echo that never comes times the session out; the restore finds the file stored and goes on', async t => {
  const { cipher, pushed } = await target('Lost echo')
  const client = new ObsidianClient({ apiUrl: service.url, device: 'restorer', timeoutMs: 300 })
  const { token } = await client.signIn(account)
  const vault = (await client.vaults(token)).find(v => v.name === 'Lost echo')!
  const session = await client.openVault({ token, vault, cipher })
  for await (const _ of session.pushes());
  service.cue({ kind: 'lose-echo' })
  await t.rejects(session.upload(file('unechoed.md', 'stored, never echoed')), { code: 'TIMEOUT' })
  t.ok(session.closed, 'the session is over')
  service.cue({ kind: 'lose-echo' })
  const progress: RestoreProgress[] = []
  const counts = await restoreUpload({
    entries: (async function* () {
      yield file('lost echo.md', 'stored, its echo lost')
      yield file('after.md', 'next')
    })(),
    open: async () => await client.openVault({ token, vault, cipher }),
    onProgress: p => void progress.push(p)
  })
  t.match(counts, { files_count: 2, uploaded: 2, errors: 0 })
  t.same(
    pushed().map(m => cipher.decryptPath(m.path as string)),
    ['unechoed.md', 'lost echo.md', 'after.md'],
    'each stored once: the file whose echo was lost was not pushed again'
  )
})

t.test('a restore that pauses between files returns unfinished; the next slice goes on from there', async t => {
  const { open, client, token, vault, cipher, pushed } = await target('Sliced')
  const files = sampleFiles()
  const entries = async function* () {
    for (const f of files) yield restoreFile(f)
  }
  let asked = 0
  const first = await restoreUpload({ entries: entries(), open, shouldPause: () => ++asked > 4 })
  t.match(first, { finished: false, files_count: 4, uploaded: 4 })
  const second = await restoreUpload({ entries: entries(), open })
  t.match(second, { finished: true, files_count: files.length, uploaded: files.length - 4, skipped: 4 })
  t.equal(pushed().filter(m => m.folder !== true).length, files.length, 'each file pushed once')
  t.same(differences(await readBack(client, token, vault, { cipher }), files), [])
})

t.test('piece by piece, content encrypts as the whole-file encryption does', async t => {
  for (const version of [0, 3]) {
    const cipher = await vaultCipher('password', 'salt', version)
    for (const size of [1, 15, 16, 17, 100_000]) {
      const plain = randomBytes(size)
      const iv = randomBytes(12)
      const encryptor = cipher.contentEncryptor(iv)
      const parts = [encryptor.update(plain.subarray(0, 7)), encryptor.update(plain.subarray(7)), encryptor.final()]
      t.same(Buffer.concat(parts), cipher.encryptContent(plain, iv), `version ${version}, ${size} bytes`)
    }
    const encryptor = cipher.contentEncryptor()
    t.equal(encryptor.final().length, 28, 'nothing fed: an IV and a tag')
  }
})
