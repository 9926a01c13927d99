import { randomUUID } from 'node:crypto'
import { ScanCommand } from '@aws-sdk/client-dynamodb'
import { unmarshall } from '@aws-sdk/util-dynamodb'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { generateApiKey } from '../../src/auth/api-keys.ts'
import { toErrorResponse } from '../../src/plugins/app/errors.ts'
import { UsersRepository, type User as UserBody } from '../../src/repositories/users/index.ts'
import { failWritesAfter } from '../fixtures/failing-dynamodb.ts'
import { answerOf, buildTestApp, injectAs, type TestApp, type TestTap } from '../helper.ts'

const key = generateApiKey('users-admin', ['users:read', 'users:write'])
const API_KEYS = JSON.stringify([key.entry])
const USER_FIELDS = ['createdAt', 'department', 'email', 'expiresAt', 'name', 'updatedAt', 'userId']

type App = TestApp['app']

const setup = (t: TestTap) => buildTestApp(t, { env: { API_KEYS } })

const post = (app: App, payload: Record<string, unknown>) => injectAs(app, key.key).post('/users', payload)
const get = (app: App, url: string) => injectAs(app, key.key).get(url)
const patch = (app: App, userId: string, payload: unknown, extra: Record<string, string> = {}) =>
  injectAs(app, key.key).patch(`/users/${userId}`, payload, extra)
const del = (app: App, userId: string) => injectAs(app, key.key).delete(`/users/${userId}`)

async function create(app: App, body: Record<string, unknown> = {}): Promise<UserBody> {
  const res = await post(app, { email: `${randomUUID()}@example.com`, name: 'Ada Lovelace', ...body })
  if (res.statusCode !== 201) throw new Error(`create failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

const byEmail = async (app: App, email: string): Promise<UserBody[]> =>
  (await get(app, `/users?email=${encodeURIComponent(email)}`)).json().users

/** Every item in the table, read directly (a Scan is fine in a test). */
async function items({ clients, config }: TestApp): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = []
  let start: Record<string, never> | undefined
  do {
    const page = await clients.dynamodb.send(
      new ScanCommand({ TableName: config.tables.users, ConsistentRead: true, ExclusiveStartKey: start })
    )
    out.push(...(page.Items ?? []).map(item => unmarshall(item)))
    start = page.LastEvaluatedKey as typeof start
  } while (start !== undefined)
  return out
}
const storedUsers = async (ctx: TestApp) => (await items(ctx)).filter(item => String(item.pk).startsWith('USER#'))

t.test('POST /users creates a user: 201, Location, ETag, epoch-millisecond times, only the public fields', async t => {
  const { app } = await setup(t)
  const before = Date.now()
  const res = await post(app, { email: 'ada@example.com', name: 'Ada', department: 'Engineering' })
  t.equal(res.statusCode, 201)
  const user = res.json()
  t.same(Object.keys(user).sort(), USER_FIELDS, 'no internal attributes (keys, ttl, version) leak')
  t.match(user.userId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  t.equal(res.headers.location, `/users/${user.userId}`)
  t.equal(res.headers.etag, '"1"')
  t.ok(
    Number.isInteger(user.createdAt) && user.createdAt >= before && user.createdAt <= Date.now(),
    'createdAt in epoch ms'
  )
  t.equal(user.updatedAt, user.createdAt)
  t.same(
    { email: user.email, name: user.name, department: user.department, expiresAt: user.expiresAt },
    { email: 'ada@example.com', name: 'Ada', department: 'Engineering', expiresAt: null }
  )

  const read = await get(app, `/users/${user.userId}`)
  t.equal(read.statusCode, 200)
  t.equal(read.headers.etag, '"1"')
  t.same(read.json(), user)
  t.same(Object.keys(read.json()).sort(), USER_FIELDS)
})

t.test('GET, PATCH and DELETE of an unknown user are 404; a malformed id is 400', async t => {
  const { app } = await setup(t)
  const id = randomUUID()
  for (const res of [await get(app, `/users/${id}`), await patch(app, id, { name: 'x' }), await del(app, id)]) {
    t.equal(res.statusCode, 404)
    t.equal(res.json().code, 'USER_NOT_FOUND')
  }
  t.equal((await get(app, '/users/not-a-uuid')).statusCode, 400)
})

t.test('email is unique, compared trimmed and case-insensitively', async t => {
  const ctx = await setup(t)
  const { app } = ctx
  const first = await create(app, { email: '  Grace.Hopper@Example.COM ' })
  t.equal(first.email, 'Grace.Hopper@Example.COM', 'stored trimmed, as sent')
  for (const email of ['grace.hopper@example.com', 'GRACE.HOPPER@EXAMPLE.COM', ' grace.hopper@example.com\t']) {
    const res = await post(app, { email, name: 'Someone else' })
    t.equal(res.statusCode, 409, email)
    t.equal(res.json().code, 'EMAIL_TAKEN')
  }
  t.equal((await storedUsers(ctx)).length, 1, 'nothing else stored')
  t.same(await byEmail(app, ' GRACE.hopper@example.com '), [first], 'lookup by email is case-insensitive and trimmed')
  t.same(await byEmail(app, 'nobody@example.com'), [], 'an unknown email is an empty list')
})

t.test('20 concurrent creates with one email: one 201, nineteen 409, one user stored', async t => {
  const ctx = await setup(t)
  const variants = [
    'race@example.com',
    'RACE@example.com',
    ' race@example.com',
    'Race@Example.Com ',
    'race@EXAMPLE.com'
  ]
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => post(ctx.app, { email: variants[i % variants.length], name: `Racer ${i}` }))
  )
  const statuses = results.map(r => r.statusCode)
  t.equal(statuses.filter(s => s === 201).length, 1, 'exactly one 201')
  t.equal(statuses.filter(s => s === 409).length, 19, 'the rest 409')
  const users = await storedUsers(ctx)
  t.equal(users.length, 1, 'exactly one user stored')
  const winner = results.find(r => r.statusCode === 201)!.json()
  t.equal(users[0]!.userId, winner.userId)
  t.same(
    (await byEmail(ctx.app, 'race@example.com')).map(u => u.userId),
    [winner.userId]
  )
})

t.test('GET /users?email= is a list of at most one and does not combine with department or cursor', async t => {
  const { app } = await setup(t)
  const user = await create(app, { email: 'one@example.com', department: 'Ops' })
  const res = await get(app, '/users?email=ONE%40example.com')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { users: [user], cursor: null })
  t.equal((await get(app, '/users?email=one%40example.com&department=Ops')).statusCode, 400)
  t.equal((await get(app, '/users?email=one%40example.com&cursor=abc')).statusCode, 400)
  t.equal((await get(app, '/users?email=not-an-email')).statusCode, 400)
  t.equal((await get(app, '/users?unknown=1')).statusCode, 400, 'unknown query parameters are refused')
})

t.test('PATCH changes fields, null clears department and expiresAt, the version goes up', async t => {
  const { app } = await setup(t)
  const expiresAt = Date.now() + 3_600_000
  const user = await create(app, { department: 'Research', expiresAt })
  t.equal(user.expiresAt, expiresAt)
  await sleep(5)

  const renamed = await patch(app, user.userId, { name: 'Countess' })
  t.equal(renamed.statusCode, 200)
  t.equal(renamed.headers.etag, '"2"')
  const body = renamed.json()
  t.same(Object.keys(body).sort(), USER_FIELDS)
  t.same(body, { ...user, name: 'Countess', updatedAt: body.updatedAt })
  t.ok(body.updatedAt > user.updatedAt, 'updatedAt moves')

  const cleared = await patch(app, user.userId, { department: null, expiresAt: null })
  t.equal(cleared.statusCode, 200)
  t.equal(cleared.headers.etag, '"3"')
  t.same(
    { department: cleared.json().department, expiresAt: cleared.json().expiresAt },
    { department: null, expiresAt: null }
  )
  const read = await get(app, `/users/${user.userId}`)
  t.equal(read.headers.etag, '"3"')
  t.same(read.json(), cleared.json())
  t.equal(read.json().createdAt, user.createdAt, 'createdAt never changes')

  const set = await patch(app, user.userId, { department: 'Math', expiresAt })
  t.same({ department: set.json().department, expiresAt: set.json().expiresAt }, { department: 'Math', expiresAt })
})

t.test('PATCH honours If-Match: 412 when stale and nothing written', async t => {
  const ctx = await setup(t)
  const { app } = ctx
  const user = await create(app, { email: 'match@example.com' })
  t.equal((await patch(app, user.userId, { name: 'Second' }, { 'if-match': '"1"' })).statusCode, 200)

  const stale = await patch(app, user.userId, { name: 'Third', email: 'moved@example.com' }, { 'if-match': '"1"' })
  t.equal(stale.statusCode, 412)
  t.equal(stale.json().code, 'VERSION_MISMATCH')
  const read = await get(app, `/users/${user.userId}`)
  t.equal(read.headers.etag, '"2"')
  t.equal(read.json().name, 'Second', 'nothing written')
  t.equal(read.json().email, 'match@example.com')
  t.equal(
    (await post(app, { email: 'moved@example.com', name: 'Other' })).statusCode,
    201,
    'the email of the refused change was not kept'
  )

  const weak = await patch(app, user.userId, { name: 'Weak' }, { 'if-match': 'W/"2"' })
  t.equal(weak.statusCode, 412, 'If-Match compares strongly: a weak ETag never matches')
  t.equal((await get(app, `/users/${user.userId}`)).json().name, 'Second', 'nothing written')
  t.equal(
    (await patch(app, user.userId, { name: 'Third' }, { 'if-match': 'W/"1", "2"' })).statusCode,
    200,
    'a strong ETag of the current version in a list matches'
  )
  t.equal((await patch(app, user.userId, { name: 'Fourth' }, { 'if-match': '*' })).statusCode, 200)
  t.equal((await patch(app, randomUUID(), { name: 'x' }, { 'if-match': '*' })).statusCode, 404)

  // Two writers naming the same version: exactly one lands.
  const results = await Promise.all(
    ['A', 'B', 'C'].map(name => patch(app, user.userId, { name }, { 'if-match': '"4"' }))
  )
  t.same(results.map(r => r.statusCode).sort(), [200, 412, 412])
})

t.test('changing email keeps uniqueness and frees the old email', async t => {
  const ctx = await setup(t)
  const { app } = ctx
  const ada = await create(app, { email: 'ada@example.com' })
  const bob = await create(app, { email: 'bob@example.com' })

  const clash = await patch(app, bob.userId, { email: ' ADA@example.com', name: 'Bobby' })
  t.equal(clash.statusCode, 409)
  t.equal(clash.json().code, 'EMAIL_TAKEN')
  t.same((await get(app, `/users/${bob.userId}`)).json(), bob, 'nothing changed')

  const moved = await patch(app, ada.userId, { email: 'Ada.L@example.com' })
  t.equal(moved.statusCode, 200)
  t.equal(moved.json().email, 'Ada.L@example.com')
  t.same(await byEmail(app, 'ada@example.com'), [], 'the old email finds nobody')
  t.same(
    (await byEmail(app, 'ada.l@example.com')).map(u => u.userId),
    [ada.userId]
  )
  t.equal((await post(app, { email: 'ada.l@EXAMPLE.com', name: 'Copy' })).statusCode, 409, 'the new email is taken')
  const reuse = await post(app, { email: 'ada@example.com', name: 'New Ada' })
  t.equal(reuse.statusCode, 201, 'the old email is free again')

  const recase = await patch(app, bob.userId, { email: 'BOB@example.com' })
  t.equal(recase.statusCode, 200, "changing only the case of one's own email is fine")
  t.same(
    (await byEmail(app, 'bob@example.com')).map(u => u.email),
    ['BOB@example.com']
  )
})

t.test('two users racing to change to one email: one wins, one 409, one holder', async t => {
  const ctx = await setup(t)
  const { app } = ctx
  for (let round = 0; round < 5; round++) {
    const a = await create(app)
    const b = await create(app)
    const target = `contended-${round}@example.com`
    const [ra, rb] = await Promise.all([
      patch(app, a.userId, { email: target }),
      patch(app, b.userId, { email: target.toUpperCase() })
    ])
    t.same([ra.statusCode, rb.statusCode].sort(), [200, 409], `round ${round}`)
    const holders = (await storedUsers(ctx)).filter(u => u.emailKey === target)
    t.equal(holders.length, 1, 'one user has the email')
    const loser = ra.statusCode === 409 ? a : b
    t.same((await get(app, `/users/${loser.userId}`)).json(), loser, 'the loser is unchanged')
    t.same(
      (await byEmail(app, target)).map(u => u.userId),
      [holders[0]!.userId]
    )
  }
})

t.test('concurrent changes of one user to one new email: the user ends up holding it, claimed', async t => {
  const ctx = await setup(t)
  const { app } = ctx
  for (let round = 0; round < 3; round++) {
    const user = await create(app)
    const target = `same-${round}@example.com`
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => patch(app, user.userId, { email: target, name: `Try ${i}` }))
    )
    t.ok(
      results.every(r => r.statusCode === 200),
      'without If-Match every change lands, one after another'
    )
    t.equal((await get(app, `/users/${user.userId}`)).headers.etag, '"7"')
    t.same(
      (await byEmail(app, target)).map(u => u.userId),
      [user.userId],
      'the email finds the user'
    )
    t.equal(
      (await post(app, { email: target, name: 'Intruder' })).statusCode,
      409,
      "a losing attempt did not release the winner's claim"
    )
    t.equal((await post(app, { email: user.email, name: 'Successor' })).statusCode, 201, 'the old email was released')
  }
})

t.test('DELETE: 204, then 404, gone from lists, email reusable at once', async t => {
  const ctx = await setup(t)
  const { app } = ctx
  const user = await create(app, { email: 'gone@example.com', department: 'Ops' })
  const res = await del(app, user.userId)
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  t.equal((await get(app, `/users/${user.userId}`)).statusCode, 404)
  t.equal((await del(app, user.userId)).statusCode, 404)
  t.same((await get(app, '/users')).json().users, [])
  t.same((await get(app, '/users?department=Ops')).json().users, [])
  t.same(await byEmail(app, 'gone@example.com'), [])
  t.equal((await post(app, { email: 'GONE@example.com', name: 'Again' })).statusCode, 201)
  t.equal((await items(ctx)).length, 2, 'one user and its claim: nothing of the deleted user is left')
})

t.test(
  'expiresAt: sets ttl in epoch seconds; an expired user is 404, absent from lists, and its email free',
  async t => {
    const ctx = await setup(t)
    const { app } = ctx
    const expiresAt = Date.now() + 1500
    const user = await create(app, { email: 'brief@example.com', department: 'Temp', expiresAt })
    const keeper = await create(app, { department: 'Temp' })
    const stored = (await storedUsers(ctx)).find(u => u.userId === user.userId)!
    t.equal(stored.ttl, Math.ceil(expiresAt / 1000), "the table's TTL attribute, in seconds")
    t.equal(stored.expiresAt, expiresAt)
    t.equal((await get(app, `/users/${user.userId}`)).statusCode, 200, 'live until then')
    t.equal((await get(app, '/users')).json().users.length, 2)

    await sleep(Math.max(0, expiresAt - Date.now()) + 100)
    t.equal((await storedUsers(ctx)).length, 2, 'still stored: nothing has deleted it yet')
    t.equal((await get(app, `/users/${user.userId}`)).statusCode, 404)
    t.same(
      (await get(app, '/users')).json().users.map((u: UserBody) => u.userId),
      [keeper.userId]
    )
    t.same(
      (await get(app, '/users?order=desc')).json().users.map((u: UserBody) => u.userId),
      [keeper.userId]
    )
    t.same(
      (await get(app, '/users?department=Temp')).json().users.map((u: UserBody) => u.userId),
      [keeper.userId]
    )
    t.same(await byEmail(app, 'brief@example.com'), [])
    t.equal((await patch(app, user.userId, { expiresAt: null })).statusCode, 404, 'an expired user cannot be revived')
    t.equal((await del(app, user.userId)).statusCode, 404)
    const again = await post(app, { email: 'Brief@example.com', name: 'Successor' })
    t.equal(again.statusCode, 201, 'the email is free')
    t.same(
      (await byEmail(app, 'brief@example.com')).map(u => u.userId),
      [again.json().userId]
    )
  }
)

t.test('listing in creation order, both ways, across cursors, and per department', async t => {
  const { app } = await setup(t)
  const created: UserBody[] = []
  for (let i = 0; i < 7; i++) {
    created.push(await create(app, { name: `User ${i}`, department: i % 2 === 0 ? 'Even' : 'Odd' }))
    await sleep(3)
  }
  const walk = async (query: string, limit: number) => {
    const pages: string[][] = []
    let cursor: string | null = null
    do {
      const res = await get(app, `/users?${query}&limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}`)
      t.equal(res.statusCode, 200, query)
      const page = res.json()
      t.ok(page.users.length <= limit)
      for (const u of page.users) t.same(Object.keys(u).sort(), USER_FIELDS)
      pages.push(page.users.map((u: UserBody) => u.name))
      cursor = page.cursor
      t.ok(pages.length < 10, 'pagination ends')
    } while (cursor !== null)
    return pages
  }
  const names = created.map(u => u.name)
  const asc = await walk('order=asc', 3)
  t.ok(asc.length >= 3, 'more than one page')
  t.same(asc.flat(), names)
  t.same(asc[0], names.slice(0, 3))
  t.same((await walk('order=desc', 3)).flat(), [...names].reverse())
  t.same((await walk('department=Even', 2)).flat(), ['User 0', 'User 2', 'User 4', 'User 6'])
  t.same((await walk('department=Odd&order=desc', 2)).flat(), ['User 5', 'User 3', 'User 1'])
  t.same((await walk('department=None', 2)).flat(), [])

  const first = (await get(app, '/users?limit=2')).json()
  t.same(
    first.users.map((u: UserBody) => u.name),
    ['User 0', 'User 1']
  )
  t.same(
    (await get(app, `/users?limit=2&cursor=${first.cursor}`)).json().users.map((u: UserBody) => u.name),
    ['User 2', 'User 3']
  )
  const evenCursor = (await get(app, '/users?department=Even&limit=1')).json().cursor
  const mixed = await get(app, `/users?department=Odd&cursor=${evenCursor}`)
  t.equal(mixed.statusCode, 400, 'a cursor of another list is refused')
  t.equal(mixed.json().code, 'INVALID_CURSOR')
  t.equal((await get(app, `/users?cursor=${evenCursor}`)).statusCode, 400)
  t.equal((await get(app, `/users?cursor=${Buffer.from('{"pk":"x"}').toString('base64url')}`)).statusCode, 400)
  t.equal((await get(app, '/users?cursor=garbage')).statusCode, 400)

  t.equal((await get(app, '/users')).json().users.length, 7, 'default limit (20) holds all seven')
  t.equal((await get(app, '/users?limit=101')).statusCode, 400)
  t.equal((await get(app, '/users?limit=0')).statusCode, 400)
  t.equal((await get(app, '/users?order=sideways')).statusCode, 400)
})

t.test('the default page is 20 users', async t => {
  const { app } = await setup(t)
  for (let i = 0; i < 21; i++) await create(app)
  const page = (await get(app, '/users')).json()
  t.equal(page.users.length, 20)
  t.type(page.cursor, 'string')
  t.equal((await get(app, `/users?cursor=${page.cursor}`)).json().users.length, 1)
})

t.test('validation: bad input is 400 and nothing is stored or changed', async t => {
  const ctx = await setup(t)
  const { app } = ctx
  const ok = { email: 'valid@example.com', name: 'Valid' }
  const emailOf = (length: number) =>
    `${'a'.repeat(64)}@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(length - 248)}`
  const long = emailOf(255)
  t.equal(long.length, 255)
  const bad: Array<[string, Record<string, unknown>]> = [
    ['no email', { name: 'x' }],
    ['no name', { email: 'a@example.com' }],
    ['email without @', { ...ok, email: 'example.com' }],
    ['email without domain', { ...ok, email: 'a@' }],
    ['email with a space inside', { ...ok, email: 'a b@example.com' }],
    ['email without a TLD', { ...ok, email: 'a@localhost' }],
    ['email of 255 characters', { ...ok, email: long }],
    ['email with a 65-character local part', { ...ok, email: `${'a'.repeat(65)}@example.com` }],
    ['email with two dots in a row', { ...ok, email: 'a..b@example.com' }],
    ['email not a string', { ...ok, email: 42 }],
    ['empty name', { ...ok, name: '' }],
    ['blank name', { ...ok, name: '   ' }],
    ['name of 201 characters', { ...ok, name: 'n'.repeat(201) }],
    ['empty department', { ...ok, department: '' }],
    ['department of 101 characters', { ...ok, department: 'd'.repeat(101) }],
    ['department null on create', { ...ok, department: null }],
    ['expiresAt in the past', { ...ok, expiresAt: Date.now() - 1000 }],
    ['expiresAt now-ish', { ...ok, expiresAt: Date.now() }],
    ['expiresAt as a string', { ...ok, expiresAt: String(Date.now() + 60_000) }],
    ['expiresAt in seconds', { ...ok, expiresAt: 1.5 }],
    ['unknown field', { ...ok, role: 'admin' }],
    ['userId chosen by the client', { ...ok, userId: randomUUID() }]
  ]
  for (const [name, body] of bad) {
    const res = await post(app, body)
    t.equal(res.statusCode, 400, name)
    t.match(res.json(), { statusCode: 400, code: String }, name)
  }
  t.same(await items(ctx), [], 'nothing stored, not even a claim')

  t.equal((await post(app, { ...ok, email: emailOf(254) })).statusCode, 201, '254 characters is fine')
  t.equal(
    (await post(app, { ...ok, email: 'other@example.com', name: 'n'.repeat(200), department: 'd'.repeat(100) }))
      .statusCode,
    201,
    'the maximum lengths are fine'
  )

  const user = await create(app, { email: 'patch@example.com' })
  const badPatches: Array<[string, unknown]> = [
    ['empty body', {}],
    ['unknown field', { nickname: 'x' }],
    ['email null', { email: null }],
    ['name null', { name: null }],
    ['bad email', { email: 'nope' }],
    ['empty name', { name: '' }],
    ['long department', { department: 'd'.repeat(101) }],
    ['expiresAt in the past', { expiresAt: Date.now() - 1 }],
    ['createdAt is not writable', { createdAt: 1 }]
  ]
  for (const [name, body] of badPatches) {
    const res = await patch(app, user.userId, body)
    t.equal(res.statusCode, 400, name)
  }
  const read = await get(app, `/users/${user.userId}`)
  t.equal(read.headers.etag, '"1"', 'nothing changed')
  t.same(read.json(), user)
})

t.test('a writer dying between claim and user does not lock the email forever', async t => {
  const ctx = await setup(t)
  const { app, clients, config } = ctx
  const graceMs = 1500
  const dying = new UsersRepository({ dynamodb: clients.dynamodb, table: config.tables.users, claimGraceMs: graceMs })
  const failure = failWritesAfter(clients.dynamodb, 1)
  await t.rejects(dying.create({ email: 'orphan@example.com', name: 'Dies' }), /injected failure/)
  failure.restore()
  t.equal(failure.writes, 1, 'the claim was written, the user was not')
  t.same(
    (await items(ctx)).map(i => i.pk),
    ['EMAIL#orphan@example.com'],
    'a claim without its user is left behind'
  )
  t.same(await byEmail(app, 'orphan@example.com'), [], 'nobody has the email')

  // Within the grace period the claim may be a write in flight: refused.
  const repo = new UsersRepository({ dynamodb: clients.dynamodb, table: config.tables.users, claimGraceMs: graceMs })
  t.match(await answerOf(repo.create({ email: 'orphan@example.com', name: 'Too early' })), {
    statusCode: 409,
    code: 'EMAIL_TAKEN'
  })
  t.equal((await post(app, { email: 'orphan@example.com', name: 'Too early' })).statusCode, 409)

  await sleep(graceMs + 100)
  const attempts = await Promise.allSettled(
    Array.from({ length: 10 }, (_, i) =>
      repo.create({ email: i % 2 === 0 ? 'ORPHAN@example.com' : ' orphan@example.com', name: `Takes over ${i}` })
    )
  )
  const winners = attempts.filter(a => a.status === 'fulfilled')
  t.equal(winners.length, 1, 'of concurrent takers exactly one gets the stale claim')
  t.ok(
    attempts.every(a => a.status === 'fulfilled' || toErrorResponse(a.reason).body.statusCode === 409),
    'the others are 409'
  )
  const taken = (winners[0] as PromiseFulfilledResult<{ userId: string }>).value
  t.same(
    (await byEmail(app, 'orphan@example.com')).map(u => u.userId),
    [taken.userId],
    'after the grace period the email is usable'
  )
  t.equal((await storedUsers(ctx)).length, 1)
  t.equal((await post(app, { email: 'orphan@example.com', name: 'Late' })).statusCode, 409, 'and unique again')
})

t.test('writers dying in an email change or a delete leave nothing locked for good', async t => {
  const ctx = await setup(t)
  const { app, clients, config } = ctx
  const graceMs = 1500
  const repo = new UsersRepository({ dynamodb: clients.dynamodb, table: config.tables.users, claimGraceMs: graceMs })
  const user = await create(app, { email: 'first@example.com' })
  const leaver = await create(app, { email: 'leaver@example.com' })

  // Email change: the new claim is written, then the writer dies before the user write.
  let failure = failWritesAfter(clients.dynamodb, 1)
  await t.rejects(repo.update(user.userId, { email: 'second@example.com' }), /injected failure/)
  failure.restore()
  t.same((await get(app, `/users/${user.userId}`)).json(), user, 'the user is unchanged')
  t.same(
    (await byEmail(app, 'first@example.com')).map(u => u.userId),
    [user.userId],
    'and still holds its email'
  )
  t.equal((await post(app, { email: 'first@example.com', name: 'Thief' })).statusCode, 409)

  // Delete: the user is deleted, then the writer dies before releasing the claim.
  failure = failWritesAfter(clients.dynamodb, 1)
  await repo.delete(leaver.userId)
  failure.restore()
  t.equal(failure.writes, 1, 'the user delete went through, the release did not')
  t.equal((await get(app, `/users/${leaver.userId}`)).statusCode, 404)
  t.ok(
    (await items(ctx)).some(i => i.pk === 'EMAIL#leaver@example.com'),
    'its claim was left behind'
  )

  await sleep(graceMs + 100)
  t.ok(await repo.create({ email: 'second@example.com', name: 'Gets it' }), 'the abandoned new email is usable')
  t.ok(await repo.create({ email: 'leaver@example.com', name: 'Gets it too' }), "the deleted user's email is usable")
  t.equal((await post(app, { email: 'first@example.com', name: 'Thief' })).statusCode, 409, 'a held email never is')
})

t.test('OpenAPI documents every /users route with its parameters, body and responses', async t => {
  const { app } = await setup(t)
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
  const expected: Record<string, Record<string, string[]>> = {
    '/users': { post: ['201', '400', '409'], get: ['200', '400'] },
    '/users/{userId}': {
      get: ['200', '400', '404'],
      patch: ['200', '400', '404', '409', '412'],
      delete: ['204', '400', '404']
    }
  }
  for (const [path, methods] of Object.entries(expected)) {
    for (const [method, statuses] of Object.entries(methods)) {
      const op = doc.paths[path]?.[method]
      const name = `${method.toUpperCase()} ${path}`
      t.ok(op, `${name} is documented`)
      t.same(op.tags, ['users'], `${name} tags`)
      t.ok(op.summary, `${name} summary`)
      for (const status of [...statuses, '401', '403', '429', '500', '503'])
        t.ok(op.responses[status], `${name} documents ${status}`)
      t.match(op.description, method === 'get' ? /users:read/ : /users:write/, `${name} names its scope`)
      if (path.includes('{userId}'))
        t.ok(op.parameters.some((p: { in: string; name: string }) => p.in === 'path' && p.name === 'userId'))
      if (method === 'post' || method === 'patch') t.ok(op.requestBody, `${name} body`)
    }
  }
  const query = doc.paths['/users'].get.parameters
    .filter((p: { in: string }) => p.in === 'query')
    .map((p: { name: string }) => p.name)
    .sort()
  t.same(query, ['cursor', 'department', 'email', 'limit', 'order'])
  t.ok(
    doc.paths['/users/{userId}'].patch.parameters.some(
      (p: { in: string; name: string }) => p.in === 'header' && p.name === 'if-match'
    )
  )
  const user = doc.paths['/users/{userId}'].get.responses['200'].content['application/json'].schema
  t.equal(user.additionalProperties, false, 'responses are serialized through a closed schema')
})

t.test('a writer too slow after claiming writes nothing and gives the email back', async t => {
  const ctx = await setup(t)
  const { app, clients, config } = ctx
  const graceMs = 400
  const repo = new UsersRepository({ dynamodb: clients.dynamodb, table: config.tables.users, claimGraceMs: graceMs })
  // The claim's write comes back late, as from a stalled process: past half the grace period.
  let writes = 0
  clients.dynamodb.middlewareStack.add(
    (next, context) => async args => {
      const result = await next(args)
      if (context.commandName === 'PutItemCommand' && writes++ === 0) await sleep(graceMs)
      return result
    },
    { step: 'initialize', name: 'slow-first-write' }
  )
  t.match(await answerOf(repo.create({ email: 'slow@example.com', name: 'Slow' })), {
    statusCode: 503,
    code: 'WRITE_TOO_SLOW',
    headers: { 'retry-after': '2' }
  })
  clients.dynamodb.middlewareStack.remove('slow-first-write')
  t.same(await items(ctx), [], 'no user, and the claim was released')
  t.equal((await post(app, { email: 'slow@example.com', name: 'Next' })).statusCode, 201, 'the email is free at once')
})
