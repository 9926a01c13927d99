import t from 'tap'
import {
  ObsidianClient,
  ObsidianError,
  type ClientLog,
  type PushEvent,
  type VaultSession
} from '../../../src/sync/obsidian/index.ts'
import {
  bigPlaintext,
  startFakeObsidian,
  vectors,
  vectorVault,
  type FakeObsidian
} from '../../../scripts/lib/obsidian-stand-in.ts'

const account = { email: 'ada@example.com', password: 'account pässword', name: 'Ada' }
const mfaAccount = { email: 'grace@example.com', password: 'another secret', totpSecret: 'JBSWY3DPEHPK3PXPJBSWY3DP' }
const [v0, v3] = vectors.vaults as [(typeof vectors.vaults)[0], (typeof vectors.vaults)[0]]

/** Every line the clients log in this file; the last test checks none holds a secret. */
const logged: string[] = []
const log: ClientLog = {
  debug: (fields, message) => {
    logged.push(`${message} ${JSON.stringify(fields)}`)
  },
  warn: (fields, message) => {
    logged.push(`${message} ${JSON.stringify(fields)}`)
  }
}
const tokens: string[] = []

let service: FakeObsidian
t.before(async () => {
  service = await startFakeObsidian({
    accounts: [account, mfaAccount],
    vaults: [await vectorVault(v0), await vectorVault(v3)]
  })
  service.shared.add(v0.id)
})
t.teardown(() => service.close())

const client = (options: ConstructorParameters<typeof ObsidianClient>[0] = {}): ObsidianClient =>
  new ObsidianClient({ apiUrl: service.url, log, device: 'test', ...options })

async function signedIn(c: ObsidianClient = client()): Promise<string> {
  const { token } = await c.signIn(account)
  tokens.push(token)
  return token
}

async function open(
  vector: typeof v0,
  options: { version?: number; initial?: boolean; password?: string; c?: ObsidianClient } = {}
): Promise<VaultSession> {
  const c = options.c ?? client()
  const token = await signedIn(c)
  const vault = (await c.vaults(token)).find(v => v.id === vector.id)!
  return await c.openVault({
    token,
    vault,
    password: options.password ?? vector.password,
    version: options.version,
    initial: options.initial
  })
}

/** Reads every push and pulls each file as it arrives, before the stream has ended. */
async function readVault(session: VaultSession) {
  const files = new Map<string, Buffer>()
  const folders: string[] = []
  const deleted: string[] = []
  const order: number[] = []
  for await (const event of session.pushes()) {
    if (event.kind !== 'push') throw event.error
    const { push } = event
    order.push(push.uid)
    if (push.folder) folders.push(push.path)
    else if (push.deleted) deleted.push(push.path)
    else {
      const chunks: Buffer[] = []
      for await (const chunk of session.pull(push)) chunks.push(chunk)
      files.set(push.path, Buffer.concat(chunks))
    }
  }
  return { files, folders, deleted, order, version: session.version }
}

const expectedLive = (vector: typeof v0): Map<string, Buffer> => {
  const live = new Map<string, Buffer>()
  for (const r of vector.records) {
    if (r.deleted) live.delete(r.path)
    else if (!r.folder)
      live.set(r.path, r.generated === 'big' ? bigPlaintext(r.size) : Buffer.from(r.content!, 'base64'))
  }
  return live
}

for (const vector of [v0, v3]) {
  t.test(
    `encryption version ${vector.encryption_version}: a whole vault comes back byte for byte with its plain paths`,
    async t => {
      const c = client()
      const token = await signedIn(c)
      const listed = (await c.vaults(token)).find(v => v.id === vector.id)
      t.match(listed, {
        id: vector.id,
        name: vector.name,
        encryptionVersion: vector.encryption_version,
        shared: vector.id === v0.id
      })
      const session = await c.openVault({ token, vault: listed!, password: vector.password })
      const got = await readVault(session)
      session.close()
      const expected = expectedLive(vector)
      t.same([...got.files.keys()].sort(), [...expected.keys()].sort(), 'every live file, nothing deleted')
      for (const [path, bytes] of expected) t.ok(got.files.get(path)?.equals(bytes), `${path}: identical bytes`)
      t.ok(
        got.files.has('Résumé/Café.md'.normalize('NFC')) && got.files.has('Résumé/Café (copy).md'.normalize('NFD')),
        'NFC and NFD paths as stored'
      )
      t.same(got.files.get('empty.md'), Buffer.alloc(0), 'the empty file')
      t.equal(got.files.get('attachments/big.bin')?.length, 5 * 1024 * 1024, 'the 5 MiB file')
      t.same(got.folders, ['Résumé'], 'the folder')
      t.same(got.deleted, [], 'an initial read sends no deletions')
      t.equal(got.version, 10, 'ready carries the vault version')
      t.same(
        got.order,
        [...got.order].sort((a, b) => a - b),
        'in uid order'
      )
    }
  )

  t.test(`encryption version ${vector.encryption_version}: changes after a version, deletions included`, async t => {
    const session = await open(vector, { version: 5 })
    const events: PushEvent[] = []
    for await (const event of session.pushes()) events.push(event)
    session.close()
    t.same(
      events.map(e => (e.kind === 'push' ? [e.push.uid, e.push.path, e.push.deleted] : e.kind)),
      [
        [6, 'old.md', false],
        [7, 'notes/todo.md', false],
        [8, 'old.md', true],
        [9, 'attachments/big.bin', false],
        [10, '日本語/メモ 📝.md', false]
      ]
    )
    t.equal(session.version, 10)
  })
}

t.test('the 5 MiB file arrives in three pieces, a piece at a time', async t => {
  const session = await open(v3)
  let big
  for await (const event of session.pushes())
    if (event.kind === 'push' && event.push.path === 'attachments/big.bin') big = event.push
  const sizes: number[] = []
  for await (const chunk of session.pull(big!)) sizes.push(chunk.length)
  session.close()
  t.equal(sizes.length, 3)
  t.ok(
    sizes.every(size => size <= 2 * 1024 * 1024),
    'no chunk larger than a piece'
  )
  t.equal(
    sizes.reduce((a, b) => a + b, 0),
    5 * 1024 * 1024
  )
})

t.test('sign-in failures are typed, and say nothing secret', async t => {
  const c = client()
  await t.rejects(c.signIn({ ...account, password: 'wrong' }), {
    name: 'ObsidianError',
    code: 'BAD_CREDENTIALS',
    retryable: false
  })
  await t.rejects(c.signIn({ email: mfaAccount.email, password: mfaAccount.password }), { code: 'MFA_REQUIRED' })
  await t.rejects(c.signIn({ ...mfaAccount, totpSecret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ' }), { code: 'MFA_INVALID' })
  const { token } = await c.signIn(mfaAccount)
  tokens.push(token)
  t.ok(token, 'the right TOTP secret signs in')
  await t.rejects(c.vaults('not-a-token'), { code: 'NOT_LOGGED_IN' })
  await t.rejects(c.api.user('not-a-token'), { code: 'NOT_LOGGED_IN' })
  t.match(await c.api.user(token), { email: mfaAccount.email })
  await t.rejects(new ObsidianClient({ apiUrl: 'http://127.0.0.1:1', timeoutMs: 2000 }).signIn(account), {
    code: 'NETWORK',
    retryable: true
  })
})

t.test("a wrong encryption password is the service's verdict (/vault/access); an unknown vault is refused", async t => {
  await t.rejects(open(v3, { password: 'not the vault password' }), {
    code: 'WRONG_ENCRYPTION_PASSWORD',
    message: /"Invalid encryption password"/
  })
  t.same(service.accessChecks.at(-1), { vaultId: v3.id, ok: false }, 'the key was put to /vault/access')
  const c = client()
  const token = await signedIn(c)
  const vault = (await c.vaults(token)).find(v => v.id === v3.id)!
  await t.rejects(c.openVault({ token, vault: { ...vault, id: 'no-such-vault' }, password: v3.password }), {
    code: 'VAULT_NOT_FOUND'
  })
  await t.rejects(c.openVault({ token: 'stale', vault, password: v3.password }), { code: 'NOT_LOGGED_IN' })
  await t.rejects(c.openVault({ token, vault: { ...vault, encryptionVersion: 7 }, password: v3.password }), {
    code: 'UNSUPPORTED_ENCRYPTION'
  })
})

async function bigPush(session: VaultSession) {
  for await (const event of session.pushes())
    if (event.kind === 'push' && event.push.path === 'attachments/big.bin') return event.push
  throw new Error('no big file')
}

t.test('a socket dropped mid-pull ends the pull with a retryable NETWORK error', async t => {
  const session = await open(v3)
  const push = await bigPush(session)
  service.cue({ kind: 'drop-mid-pull' })
  let chunks = 0
  const error = await (async () => {
    try {
      for await (const _ of session.pull(push)) chunks++
    } catch (err) {
      return err
    }
  })()
  t.ok(error instanceof ObsidianError)
  t.match(error, { code: 'NETWORK', retryable: true })
  t.ok(chunks <= 1, 'at most the first, unverified, piece was seen')
  await t.rejects(
    async () => {
      for await (const _ of session.pull(push));
    },
    { code: 'NETWORK' },
    'the session stays failed'
  )
})

t.test('a stalled server ends in TIMEOUT, not a hang, though it still answers pings', async t => {
  const session = await open(v3, { c: client({ timeoutMs: 400, pingIntervalMs: 100 }) })
  const push = await bigPush(session)
  service.cue({ kind: 'stall-pull' })
  const started = Date.now()
  await t.rejects(
    async () => {
      for await (const _ of session.pull(push));
    },
    { code: 'TIMEOUT', retryable: true }
  )
  t.ok(Date.now() - started < 5000, 'within the configured time')

  service.cue({ kind: 'stall-after-init' })
  const stalled = await open(v3, { c: client({ timeoutMs: 400, pingIntervalMs: 100 }) })
  await t.rejects(
    async () => {
      for await (const _ of stalled.pushes());
    },
    { code: 'TIMEOUT' },
    'pushes that never come'
  )
})

t.test('a file over the size limit is refused before any of it is pulled, the default limit included', async t => {
  for (const [c, size, label] of [
    [client(), 1024 * 1024 * 1024 + 1, 'over the default 1 GiB, with no limit given'],
    [client({ maxFileBytes: 1000 }), 1001, 'over a given limit']
  ] as const) {
    const session = await open(v3, { c })
    const push = await bigPush(session)
    service.cue({ kind: 'claim-size', size })
    await t.rejects(
      async () => {
        for await (const _ of session.pull(push));
      },
      { code: 'TOO_LARGE', retryable: false },
      label
    )
    session.close()
  }
})

t.test('a corrupted piece fails its file with INTEGRITY; the session goes on', async t => {
  const session = await open(v3)
  const pushes = []
  for await (const event of session.pushes()) if (event.kind === 'push') pushes.push(event.push)
  const big = pushes.find(p => p.path === 'attachments/big.bin')!
  service.cue({ kind: 'corrupt-piece', piece: 1 })
  await t.rejects(
    async () => {
      for await (const _ of session.pull(big));
    },
    { code: 'INTEGRITY', retryable: false }
  )
  const todo = pushes.find(p => p.path === 'notes/todo.md')!
  const chunks: Buffer[] = []
  for await (const chunk of session.pull(todo)) chunks.push(chunk)
  t.equal(Buffer.concat(chunks).toString(), '- [x] first draft\n- [ ] second\n', 'the next pull still works')
  await t.rejects(
    async () => {
      for await (const _ of session.pull({ uid: todo.uid, hash: big.hash }));
    },
    { code: 'INTEGRITY' },
    'content that does not match its hash'
  )
  session.close()
})

t.test('a push that does not decrypt is reported on its own; the rest are read', async t => {
  service.cue({ kind: 'malformed-push' })
  const session = await open(v3)
  const events: PushEvent[] = []
  for await (const event of session.pushes()) events.push(event)
  session.close()
  t.match(events[0], { kind: 'unreadable', uid: 99_999, error: { code: 'INTEGRITY' } })
  t.equal(events.filter(e => e.kind === 'push').length, 7, 'the live paths of the vault')
})

t.test('abandoning a pull midway closes the session rather than misreading the next', async t => {
  const session = await open(v3)
  const push = await bigPush(session)
  for await (const _ of session.pull(push)) break
  await t.rejects(
    async () => {
      for await (const _ of session.pull(push));
    },
    { code: 'PROTOCOL' }
  )
})

t.test('no log line holds a password, token, TOTP secret or key', async t => {
  t.ok(logged.length > 5, `${logged.length} lines logged`)
  const secrets = [
    account.password,
    mfaAccount.password,
    mfaAccount.totpSecret,
    v0.password,
    v3.password,
    v0.keyhash,
    v3.keyhash,
    ...tokens
  ]
  for (const line of logged) {
    for (const secret of secrets) t.notOk(line.includes(secret), `no secret in: ${line.slice(0, 120)}`)
  }
})
