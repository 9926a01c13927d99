import t from 'tap'
import { decodeCursor, encodeCursor } from '../src/http/pagination.ts'
import { toErrorResponse } from '../src/plugins/app/errors.ts'

t.test('a cursor round-trips the key it was made from', async t => {
  const key = { userId: 'u-1', createdAt: 1700000000000 }
  t.same(decodeCursor(encodeCursor(key), { createdAt: 'number', userId: 'string' }), key)
  t.equal(decodeCursor(undefined, { userId: 'string' }), undefined)
})

t.test('a forged or foreign cursor is a 400 INVALID_CURSOR', async t => {
  const bad = [
    'not json at all',
    encodeCursor({ userId: 'u-1' }),
    encodeCursor({ userId: 'u-1', createdAt: 1, extra: 'x' }),
    encodeCursor({ userId: '', createdAt: 1 }),
    Buffer.from('[1,2]').toString('base64url'),
    Buffer.from('{"userId":{"S":"x"},"createdAt":1}').toString('base64url'),
    encodeCursor({ userId: 1, createdAt: 1 }),
    encodeCursor({ userId: 'u-1', createdAt: '1' }),
    encodeCursor({ userId: 'u-1', createdAt: 1e308 }),
    encodeCursor({ userId: 'u-1', createdAt: -1 }),
    encodeCursor({ userId: '\ud83d', createdAt: 1 })
  ]
  for (const cursor of bad) {
    let thrown: unknown
    try {
      decodeCursor(cursor, { userId: 'string', createdAt: 'number' })
    } catch (err) {
      thrown = err
    }
    t.match(toErrorResponse(thrown).body, { statusCode: 400, code: 'INVALID_CURSOR' }, cursor)
  }
})

t.test('fixed and patterned attributes must match', async t => {
  const shape = { pk: { pattern: /^USER#/ }, list: { equals: 'USERS' } } as const
  t.same(decodeCursor(encodeCursor({ pk: 'USER#1', list: 'USERS' }), shape), { pk: 'USER#1', list: 'USERS' })
  t.throws(() => decodeCursor(encodeCursor({ pk: 'EMAIL#a', list: 'USERS' }), shape), { code: 'INVALID_CURSOR' })
  t.throws(() => decodeCursor(encodeCursor({ pk: 'USER#1', list: 'DEPT#x' }), shape), { code: 'INVALID_CURSOR' })
  t.throws(() => decodeCursor(encodeCursor({ pk: 'USER#1', list: 'USERS', constructor: 'x' }), shape), {
    code: 'INVALID_CURSOR'
  })
})
