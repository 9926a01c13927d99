/**
 * A restore into a NEW vault of the stand-in, for both encryptions: the vault
 * created as the official client creates one, every file uploaded as it
 * uploads them, then read back through our own client, byte for byte.
 */
import t, { type Test } from 'tap'
import {
  extensionOf,
  ObsidianClient,
  PIECE_BYTES,
  type ClientLog,
  type VaultCipher
} from '../../../src/sync/obsidian/index.ts'
import { restoreUpload, type RestoreProgress } from '../../../src/sync/restore-upload.ts'
import { startFakeObsidian, type FakeObsidian } from '../../../scripts/lib/obsidian-stand-in.ts'
import { differences, entriesOf, foldersOf, readBack, sampleFiles, sha256 } from '../../fixtures/restore.ts'

const account = { email: 'ada@example.com', password: 'account pässword', name: 'Ada' }
const TARGET_PASSWORD = 'the restored vault’s pässword'

const logged: string[] = []
const log: ClientLog = {
  debug: (fields, message) => void logged.push(`${message} ${JSON.stringify(fields)}`),
  warn: (fields, message) => void logged.push(`${message} ${JSON.stringify(fields)}`)
}

let service: FakeObsidian
t.before(async () => {
  service = await startFakeObsidian({ accounts: [account] })
})
t.teardown(() => service.close())

const client = (): ObsidianClient => new ObsidianClient({ apiUrl: service.url, device: 'restorer', log })

const files = sampleFiles()

for (const encryption of ['end-to-end', 'standard'] as const) {
  t.test(`${encryption}: a new vault, every file uploaded once, read back byte for byte`, async t => {
    const c = client()
    const { token } = await c.signIn(account)
    const before = service.vaults.size
    const name = `Restored (${encryption})`
    const { vault, cipher } = await c.createVault({
      token,
      name,
      encryption,
      ...(encryption === 'end-to-end' ? { password: TARGET_PASSWORD } : {})
    })
    t.equal(service.vaults.size, before + 1, 'one vault created')
    const created = service.vaults.get(vault.id)!
    t.equal(created.name, name)
    t.equal(created.encryptionVersion, 3)
    t.equal(created.keyhash, cipher.keyhash, 'the service holds the keyhash of the key returned')
    if (encryption === 'end-to-end') {
      t.equal(created.listedPassword, undefined, 'no password listed: the service never saw it')
      t.equal(created.cipher, undefined, 'and it cannot decrypt what it stores')
      t.match(created.salt, /^[0-9a-f]{32}$/, 'a fresh random salt, ours')
    } else {
      t.type(created.listedPassword, 'string', "the service's password, listed")
      t.equal(vault.password, created.listedPassword)
      t.notOk(Object.keys(vault).includes('password'), 'and not an enumerable field of the vault')
    }

    const progress: RestoreProgress[] = []
    const counts = await restoreUpload({
      entries: entriesOf(files),
      open: async () => await c.openVault({ token, vault, cipher }),
      onProgress: p => void progress.push(p),
      log
    })
    const folders = foldersOf(files)
    t.same(counts, {
      files_count: files.length,
      uploaded: files.length,
      skipped: 0,
      errors: 0,
      folders: folders.size,
      finished: true
    })
    const { finished: _, ...last } = counts
    t.same(progress.at(-1)?.counts, last, 'progress ends at the counts')
    t.same(
      progress.filter(p => p.action === 'folder').map(p => p.path),
      [...folders],
      'each folder created once, before what it holds'
    )

    const received = service.received.get(vault.id)!
    t.equal(received.length, files.length + folders.size, 'one push stored per file and per folder')
    checkPushes(t, received, cipher)

    // Read back as a user would open it: a new client, the vault from the list, the password (or the listed one).
    const reader = client()
    const session = await reader.signIn(account)
    const listed = (await reader.vaults(session.token)).find(v => v.id === vault.id)!
    const read = await readBack(reader, session.token, listed, {
      ...(encryption === 'end-to-end' ? { password: TARGET_PASSWORD } : {})
    })
    t.same(differences(read, files), [], 'every file, byte for byte')
    t.same([...read.folders].sort(), [...folders].sort(), 'and every folder')
  })
}

/** Every push as the official client sends it. */
function checkPushes(t: Test, received: Array<Record<string, unknown>>, cipher: VaultCipher): void {
  const byPath = new Map(received.map(m => [cipher.decryptPath(m.path as string), m]))
  for (const file of files) {
    const m = byPath.get(file.path)
    if (m === undefined) {
      t.fail(`${file.path} was not pushed`)
      continue
    }
    const size = file.content.length === 0 ? 0 : file.content.length + 28
    t.same(
      {
        relatedpath: m.relatedpath,
        extension: m.extension,
        hash: cipher.decryptHash(m.hash as string),
        folder: m.folder,
        deleted: m.deleted,
        size: m.size,
        pieces: m.pieces,
        mtime: m.mtime,
        ctime: m.ctime
      },
      {
        relatedpath: null,
        extension: extensionOf(file.path),
        hash: sha256(file.content),
        folder: false,
        deleted: false,
        size,
        pieces: Math.ceil(size / PIECE_BYTES),
        mtime: file.mtime,
        ctime: file.mtime - 1000
      },
      `${file.path}: pushed as the official client pushes it`
    )
    t.equal(m.hash, cipher.encryptPath(sha256(file.content)), `${file.path}: its hash encrypted as a path is`)
  }
  t.equal(byPath.get('Media/big video.mp4')?.pieces, 3, 'the 5 MiB file went in three pieces')
  t.equal(byPath.get('Media/two pieces.bin')?.pieces, 2, 'a file of exactly 4 MiB on the wire in two')
  t.equal(byPath.get('archive.tar.GZ')?.extension, 'gz')
  t.equal(byPath.get('README')?.extension, '')
  t.equal(byPath.get('.obsidian/app.json')?.extension, 'json')
  for (const [path, m] of byPath) {
    if (m.folder !== true) continue
    t.same(
      { extension: m.extension, hash: m.hash, relatedpath: m.relatedpath, deleted: m.deleted },
      { extension: '', hash: '', relatedpath: null, deleted: false },
      `folder ${path}`
    )
  }
}

t.test('extensions as the official client takes them: from the name, lowercased', async t => {
  t.equal(extensionOf('a.b/c.MD'), 'md')
  t.equal(extensionOf('folder.with.dots/file'), '')
  t.equal(extensionOf('.gitignore'), '')
  t.equal(extensionOf('name.'), '')
  t.equal(extensionOf('x/y.tar.gz'), 'gz')
})

t.test('a dry run creates nothing and counts what it would upload', async t => {
  const vaults = service.vaults.size
  const received = [...service.received.values()].flat().length
  const counts = await restoreUpload({ entries: entriesOf(files), dryRun: true })
  t.same(counts, {
    files_count: files.length,
    uploaded: files.length,
    skipped: 0,
    errors: 0,
    folders: foldersOf(files).size,
    finished: true
  })
  t.equal(service.vaults.size, vaults, 'no vault created')
  t.equal([...service.received.values()].flat().length, received, 'nothing pushed')
})

t.test('a dry run on a vault that holds part of it counts those as skipped, and pushes nothing', async t => {
  const c = client()
  const { token } = await c.signIn(account)
  const { vault, cipher } = await c.createVault({ token, name: 'Half restored', encryption: 'standard' })
  const open = async () => await c.openVault({ token, vault, cipher })
  await restoreUpload({ entries: entriesOf(files.slice(0, 5)), open })
  const pushed = service.received.get(vault.id)!.length
  const counts = await restoreUpload({ entries: entriesOf(files), open, dryRun: true })
  t.match(counts, { files_count: files.length, uploaded: files.length - 5, skipped: 5, errors: 0 })
  t.equal(service.received.get(vault.id)!.length, pushed, 'nothing pushed')
})

t.test('a service that answers /vault/create with no id: the vault is found in the list by its salt', async t => {
  service.settings.createAnswer = 'empty'
  t.teardown(() => {
    service.settings.createAnswer = 'entry'
  })
  const c = client()
  const { token } = await c.signIn(account)
  const first = await c.createVault({ token, name: 'Same name', encryption: 'end-to-end', password: 'one' })
  const second = await c.createVault({ token, name: 'Same name', encryption: 'end-to-end', password: 'two' })
  t.not(first.vault.id, second.vault.id, 'two vaults of one name, each found')
  t.equal(service.vaults.get(second.vault.id)!.keyhash, second.cipher.keyhash)
  const standard = await c.createVault({ token, name: 'Standard, no id', encryption: 'standard' })
  t.equal(service.vaults.get(standard.vault.id)!.keyhash, standard.cipher.keyhash)
})

t.test('an end-to-end vault is not created without a password; the service refuses a bad name', async t => {
  const c = client()
  const { token } = await c.signIn(account)
  const vaults = service.vaults.size
  await t.rejects(c.createVault({ token, name: 'No password', encryption: 'end-to-end' }), /needs an encryption/)
  await t.rejects(c.createVault({ token, name: ' ', encryption: 'standard' }), { code: 'SERVICE_ERROR' })
  t.equal(service.vaults.size, vaults)
})

t.test('no log line holds a password, token or key', async t => {
  const secrets = [account.password, TARGET_PASSWORD]
  for (const vault of service.vaults.values()) {
    if (vault.listedPassword !== undefined) secrets.push(vault.listedPassword)
    secrets.push(vault.keyhash)
  }
  for (const line of logged)
    for (const secret of secrets) t.notOk(line.includes(secret), `no secret in: ${line.slice(0, 120)}`)
})
