import t from 'tap'
import { decodeCursor, encodeCursor } from '../src/pagination.ts'

t.test('a cursor round-trips the key it was made from', async t => {
  const key = { userId: 'u-1', createdAt: 1700000000000 }
  t.same(decodeCursor(encodeCursor(key), ['createdAt', 'userId']), key)
  t.equal(decodeCursor(undefined, ['userId']), undefined)
})

t.test('a forged or foreign cursor is a 400 INVALID_CURSOR', async t => {
  const bad = [
    'not json at all',
    encodeCursor({ userId: 'u-1' }),
    encodeCursor({ userId: 'u-1', createdAt: 1, extra: 'x' }),
    encodeCursor({ userId: '', createdAt: 1 }),
    Buffer.from('[1,2]').toString('base64url'),
    Buffer.from('{"userId":{"S":"x"},"createdAt":1}').toString('base64url')
  ]
  for (const cursor of bad) {
    t.throws(() => decodeCursor(cursor, ['userId', 'createdAt']), { statusCode: 400, code: 'INVALID_CURSOR' }, cursor)
  }
})
