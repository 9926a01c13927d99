/**
 * A number in a body is kept exactly as sent, or refused: `1e309` is no
 * number JSON can carry, and an integer past 2^53 - 1 would come back rounded.
 */
import t from 'tap'
import { generateApiKey } from '../src/auth/api-keys.ts'
import { inexactIntegerLiteral } from '../src/http/json-numbers.ts'
import { buildTestApp, datasetBody } from './helper.ts'

const key = generateApiKey('everything', ['*'])
const env = { API_KEYS: JSON.stringify([key.entry]), RATE_LIMIT_MAX: '100000' }
const headers = { 'x-api-key': key.key, 'content-type': 'application/json' }

t.test('integer literals a double cannot hold are found in the text, never inside strings', async t => {
  t.equal(inexactIntegerLiteral('{"a":12345678901234567890123}'), '12345678901234567890123')
  t.equal(inexactIntegerLiteral('[-9007199254740993]'), '-9007199254740993')
  t.equal(
    inexactIntegerLiteral(
      '[9007199254740991, 9007199254740992, 100000000000000000000, 1e300, 1.5e20, 1234567890123456789.5]'
    ),
    undefined,
    'safe, or held exactly, or not written as an integer'
  )
  t.equal(inexactIntegerLiteral('{"12345678901234567890":"12345678901234567890 \\" 12345678901234567890"}'), undefined)
})

t.test(
  'non-finite and unsafe numbers are 400 INVALID_NUMBER wherever they are sent, and nothing is stored',
  async t => {
    const { app } = await buildTestApp(t, { env })
    const send = (method: 'POST' | 'PATCH', url: string, payload: string) =>
      app.inject({ method, url, headers, payload })
    const change = (data: string) => `{"entityType":"doc","entityId":"d1","operation":"create","data":${data}}`
    const user = (await send('POST', '/users', JSON.stringify({ email: 'n@example.com', name: 'N' }))).json()
    const cases: Array<[string, 'POST' | 'PATCH', string, string]> = [
      ['free-form data', 'POST', '/projects/p1/changes', change('{"x":1e309}')],
      ['free-form data, negative', 'POST', '/projects/p1/changes', change('{"x":[1,-1e400]}')],
      ['free-form data, an integer past 2^53', 'POST', '/projects/p1/changes', change('{"x":12345678901234567890123}')],
      ['free-form data, 2^53 + 1', 'POST', '/projects/p1/changes', change('{"x":9007199254740993}')],
      ['/assets size', 'POST', '/assets', '{"fileName":"a.png","contentType":"image/png","size":1e309}'],
      ['/data meta', 'POST', '/data', JSON.stringify(datasetBody()).replace(/"iterations":\d+/, '"iterations":1e309')],
      ['/users expiresAt', 'PATCH', `/users/${user.userId}`, '{"expiresAt":1e309}']
    ]
    for (const [name, method, url, payload] of cases) {
      const res = await send(method, url, payload)
      t.equal(res.statusCode, 400, name)
      t.equal(res.json().code, 'INVALID_NUMBER', name)
    }
    t.match(
      (await send('POST', '/projects/p1/changes', change('{"x":1e309}'))).json().message,
      /body\.data\.x is a number too large/
    )
    t.equal((await app.inject({ method: 'GET', url: '/projects/p1/changes', headers })).json().changes.length, 0)
    t.equal((await app.inject({ method: 'GET', url: '/assets?status=pending', headers })).json().assets.length, 0)

    // What can be carried is kept exactly.
    const kept = {
      safe: 9007199254740991,
      negative: -9007199254740991,
      float: 1.5e300,
      big: 1e20,
      text: '12345678901234567890123'
    }
    const res = await send('POST', '/projects/p1/changes', change(JSON.stringify(kept)))
    t.equal(res.statusCode, 201, res.body)
    const read = await app.inject({ method: 'GET', url: '/projects/p1/changes/1', headers })
    t.same(read.json().data, kept)
  }
)
