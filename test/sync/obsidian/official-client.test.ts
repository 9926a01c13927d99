/**
 * The client against what Obsidian's official client showed of the service:
 * standard-encryption vaults, the counter-wrapping AES-SIV, the requests'
 * headers, /vault/access before init and init's refusals, liveness, and
 * content edge cases.
 */
import { createHash } from 'node:crypto'
import t from 'tap'
import pkg from '../../../package.json' with { type: 'json' }
import { ObsidianClient, type Push, type VaultSession } from '../../../src/sync/obsidian/index.ts'
import {
  bigPlaintext,
  emptyVault,
  SIGN_IN_ORIGIN,
  sivCounterWraps,
  startFakeObsidian,
  vectors,
  vectorVault,
  wrappingContent,
  wrappingPath,
  type FakeObsidian,
  type FakeVault
} from '../../../scripts/lib/obsidian-stand-in.ts'

const account = { email: 'ada@example.com', password: 'account pässword', name: 'Ada' }
const standard = vectors.vaults.find(v => v.standard === true)!
const E2E_PASSWORD = 'end-to-end password'

let service: FakeObsidian
let e2e: FakeVault
/** A path and a content that wrap the counter in vault-e2e: found before any connection, as finding them blocks. */
let wrapping: { path: string; content: Buffer }
t.before(async () => {
  e2e = await emptyVault('vault-e2e', E2E_PASSWORD, 3, 'Private')
  wrapping = { path: wrappingPath(e2e.cipher!), content: wrappingContent(e2e.cipher!) }
  service = await startFakeObsidian({ accounts: [account], vaults: [await vectorVault(standard), e2e] })
})
t.teardown(() => service.close())

const client = (options: ConstructorParameters<typeof ObsidianClient>[0] = {}): ObsidianClient =>
  new ObsidianClient({ apiUrl: service.url, device: 'test', ...options })

async function open(vaultId: string, options: { c?: ObsidianClient; password?: string } = {}): Promise<VaultSession> {
  const c = options.c ?? client()
  const { token } = await c.signIn(account)
  const vault = (await c.vaults(token)).find(v => v.id === vaultId)!
  return await c.openVault({ token, vault, password: options.password })
}

async function pushes(session: VaultSession): Promise<Map<string, Push>> {
  const byPath = new Map<string, Push>()
  for await (const event of session.pushes()) {
    if (event.kind !== 'push') throw event.error
    byPath.set(event.push.path, event.push)
  }
  return byPath
}

async function pulled(session: VaultSession, push: Push): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of session.pull(push)) chunks.push(chunk)
  return Buffer.concat(chunks)
}

t.test('a standard-encryption vault opens with the password the service lists, byte for byte', async t => {
  const c = client()
  const { token } = await c.signIn(account)
  const listed = (await c.vaults(token)).find(v => v.id === standard.id)!
  t.equal(listed.password, standard.password, 'the listed password is read')
  t.notOk(JSON.stringify(listed).includes(standard.password), 'and stays out of any JSON (or log line) of the vault')
  t.equal((await c.vaults(token)).find(v => v.id === e2e.id)!.password, undefined, 'an end-to-end vault lists none')
  const session = await c.openVault({ token, vault: listed })
  const files = await pushes(session)
  const live = new Map<string, Buffer>()
  for (const r of standard.records) {
    if (r.deleted) live.delete(r.path)
    else if (!r.folder)
      live.set(r.path, r.generated === 'big' ? bigPlaintext(r.size) : Buffer.from(r.content!, 'base64'))
  }
  for (const [path, bytes] of live) t.same(await pulled(session, files.get(path)!), bytes, `${path}: identical`)
  session.close()
  const wrapPath = standard.records.find(r => sivCounterWraps(r.encPath))!
  const wrapHash = standard.records.find(r => r.encHash !== '' && sivCounterWraps(r.encHash))!
  t.ok(files.has(wrapPath.path), 'including a path whose SIV counter wraps')
  t.equal(files.get(wrapHash.path)?.hash, wrapHash.hash, "and a file whose hash field's SIV counter wraps")
})

t.test('names that wrap the SIV counter, made by the fake with our cipher, read back', async t => {
  const { path, content } = wrapping
  t.ok(sivCounterWraps(e2e.cipher!.encryptPath(path)), 'the path wraps')
  t.ok(
    sivCounterWraps(e2e.cipher!.encryptPath(createHash('sha256').update(content).digest('hex'))),
    'the hash field wraps'
  )
  e2e.put(path, content)
  const session = await open(e2e.id, { password: E2E_PASSWORD })
  const files = await pushes(session)
  t.same(await pulled(session, files.get(path)!), content)
  session.close()
})

t.test('requests name this product and its version; sign-in sends the origin after a preflight', async t => {
  const before = service.preflights.count
  const session = await open(e2e.id, { password: E2E_PASSWORD })
  session.close()
  t.same([...service.userAgents], [`obsync-lambda/${pkg.version}`], 'one User-Agent, on REST and WebSocket alike')
  t.equal(service.preflights.count, before + 1, 'one OPTIONS preflight per sign-in')
  const bare = await fetch(`${service.url}/user/signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: account.email, password: account.password, mfa: '' })
  })
  t.match(
    await bare.json(),
    { error: /double check your email and password/ },
    'without the origin: as a wrong password'
  )
  t.equal(SIGN_IN_ORIGIN, 'https://obsidian.md')
})

t.test('the key is checked with /vault/access before init; a wrong one is the service verdict', async t => {
  const checks = service.accessChecks.length
  const session = await open(e2e.id, { password: E2E_PASSWORD })
  session.close()
  t.same(service.accessChecks.slice(checks), [{ vaultId: e2e.id, ok: true }])
  await t.rejects(open(e2e.id, { password: 'wrong' }), {
    code: 'WRONG_ENCRYPTION_PASSWORD',
    retryable: false,
    message: /"Invalid encryption password"/
  })
})

t.test("init's refusals, in both forms, by the service's own words", async t => {
  const cases = [
    ['res', '2FA code', 'MFA_REQUIRED', false],
    ['status', '2FA code is incorrect', 'MFA_INVALID', false],
    ['status', 'Your subscription to Obsidian Sync has expired', 'SUBSCRIPTION_REQUIRED', false],
    ['res', 'Vault not found', 'VAULT_NOT_FOUND', false],
    ['status', 'The server is under maintenance, please try again later', 'SERVICE_ERROR', true],
    ['res', 'Server busy', 'SERVICE_ERROR', true],
    ['status', 'Something the client has never heard of', 'ACCESS_DENIED', false]
  ] as const
  for (const [form, msg, code, retryable] of cases) {
    service.cue({ kind: 'refuse-init', form, msg })
    const error = await open(e2e.id, { password: E2E_PASSWORD }).then(
      () => undefined,
      (err: unknown) => err as Error & { code: string; retryable: boolean }
    )
    t.match(error, { code, retryable }, `{${form}: "err", msg: ${JSON.stringify(msg)}}`)
    t.ok(error?.message.includes(msg), "with the service's words")
    t.notMatch(error?.message, /password/i, 'never "check your password"')
  }
})

t.test('a reply with an unexpected op answers the pending request', async t => {
  e2e.put('op.md', 'answered')
  const session = await open(e2e.id, { c: client({ timeoutMs: 3000 }), password: E2E_PASSWORD })
  const files = await pushes(session)
  service.cue({ kind: 'reply-op', op: 'pull' })
  const started = Date.now()
  t.equal((await pulled(session, files.get('op.md')!)).toString(), 'answered')
  t.ok(Date.now() - started < 2000, 'at once, not after a timeout')
  session.close()
})

t.test('liveness: pings keep an idle connection; one that sends nothing at all is dead', async t => {
  const timings = { timeoutMs: 5000, idleTimeoutMs: 300, pingIntervalMs: 50 }
  const alive = await open(e2e.id, { c: client(timings), password: E2E_PASSWORD })
  const files = await pushes(alive)
  await new Promise(resolve => setTimeout(resolve, 900))
  const first = files.values().next().value!
  t.ok((await pulled(alive, first)).length > 0, 'pongs count: alive after three idle timeouts')
  alive.close()

  const quiet = await open(e2e.id, { c: client(timings), password: E2E_PASSWORD })
  await pushes(quiet)
  service.cue({ kind: 'go-silent' })
  const started = Date.now()
  await t.rejects(
    async () => {
      for await (const _ of quiet.pull(first));
    },
    { code: 'TIMEOUT', retryable: true, message: /not even a pong/ }
  )
  t.ok(Date.now() - started < 2500, 'dead after the idle timeout, well before the request timeout')
})

t.test('connecting and init may take longer than a request', async t => {
  service.cue({ kind: 'slow-init', ms: 600 })
  const slow = await open(e2e.id, {
    c: client({ timeoutMs: 200, connectTimeoutMs: 5000 }),
    password: E2E_PASSWORD
  })
  t.ok(slow, 'an init answered after three request timeouts, within the connect timeout')
  slow.close()
  service.cue({ kind: 'slow-init', ms: 1500 })
  await t.rejects(open(e2e.id, { c: client({ timeoutMs: 5000, connectTimeoutMs: 300 }), password: E2E_PASSWORD }), {
    code: 'TIMEOUT',
    message: /did not answer init/
  })
})

t.test('content edge cases: an IV alone, an empty hash, pieces of any size, a BOM, perFileMax', async t => {
  const large = Buffer.alloc(3 * 1024 * 1024 + 5, 0x61)
  e2e.putIvOnly('iv-only.md')
  e2e.putWithoutHash('no-hash.md', 'no hash to check')
  e2e.put('\ufeffbom.md', 'a BOM before the name')
  e2e.put('large.bin', large)
  e2e.put('small.md', Buffer.alloc(1000, 0x62))
  const session = await open(e2e.id, { password: E2E_PASSWORD })
  const files = await pushes(session)
  t.same(await pulled(session, files.get('iv-only.md')!), Buffer.alloc(0), '12 bytes on the wire: an empty file')
  t.equal(files.get('no-hash.md')?.hash, '', 'an empty hash field is accepted')
  t.equal((await pulled(session, files.get('no-hash.md')!)).toString(), 'no hash to check')
  t.equal(
    files.get('no-hash.md')?.hash,
    createHash('sha256').update('no hash to check').digest('hex'),
    'and once pulled, the push carries the hash of what was pulled'
  )
  t.ok(files.has('bom.md') && !files.has('\ufeffbom.md'), 'the path lost its BOM')
  service.settings.pieceBytes = 8 * 1024 * 1024
  t.same(await pulled(session, files.get('large.bin')!), large, 'one piece larger than 2 MiB')
  service.settings.pieceBytes = 100
  t.same(await pulled(session, files.get('small.md')!), Buffer.alloc(1000, 0x62), 'pieces of 100 bytes')
  service.settings.pieceBytes = 2 * 1024 * 1024
  session.close()

  service.settings.perFileMax = 64 * 1024
  t.teardown(() => {
    service.settings.perFileMax = 208_666_624
  })
  const limited = await open(e2e.id, { password: E2E_PASSWORD })
  const again = await pushes(limited)
  t.equal(limited.perFileMax, 64 * 1024)
  t.ok((await pulled(limited, again.get('small.md')!)).length === 1000, 'a file within it')
  await t.rejects(
    async () => {
      for await (const _ of limited.pull(again.get('large.bin')!));
    },
    { code: 'TOO_LARGE', message: /per-file limit/ },
    "a file over init's perFileMax is refused before it is pulled"
  )
})
