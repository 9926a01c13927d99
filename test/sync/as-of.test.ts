import t from 'tap'
import { SYNC_VERSION_RETENTION_DAYS } from '../../src/core/limits.ts'
import type { VaultState } from '../../src/repositories/sync-vaults.ts'
import { checkAsOf, oldestMoment, parseAsOf } from '../../src/sync/as-of.ts'

const DAY = 24 * 60 * 60 * 1000
const state = (firstRunAt?: number): VaultState => ({
  vaultId: 'v',
  destBucket: 'b',
  destPrefix: 'vaults',
  fileCount: 0,
  firstRunAt
})

t.test('as_of: epoch ms, or RFC 3339 with any offset and a leap second', async t => {
  t.equal(parseAsOf('1733380000000'), 1733380000000)
  t.equal(parseAsOf('2026-12-05T07:00:00.250+01:00'), Date.UTC(2026, 11, 5, 6, 0, 0, 250))
  t.equal(parseAsOf('2016-12-31T23:59:60Z'), Date.UTC(2016, 11, 31, 23, 59, 59, 999), 'the last instant of its minute')
  t.equal(parseAsOf('2016-12-31T23:59:60.5Z'), Date.UTC(2016, 11, 31, 23, 59, 59, 999))
  t.throws(() => parseAsOf('2026-02-30T00:00:00Zjunk'), { code: 'VALIDATION_FAILED' })
})

t.test('the oldest moment: the first run, or what the bucket keeps, whichever is later', async t => {
  const now = Date.UTC(2026, 11, 5)
  const retained = now - SYNC_VERSION_RETENTION_DAYS * DAY
  t.equal(oldestMoment(undefined, now), undefined, 'never backed up')
  t.equal(oldestMoment(state(now - DAY), now), now - DAY)
  t.equal(oldestMoment(state(now - 90 * DAY), now), retained)
  t.equal(oldestMoment(state(), now), retained, 'a first run not recorded: the retention alone')
  t.doesNotThrow(() => checkAsOf(now - DAY, 'v', state(now - DAY), now))
  t.throws(() => checkAsOf(now - DAY - 1, 'v', state(now - DAY), now), {
    code: 'AS_OF_OUT_OF_RANGE',
    message: new RegExp(`oldest moment available is ${new Date(now - DAY).toISOString()}$`)
  })
  t.throws(() => checkAsOf(now, 'v', undefined, now), { code: 'AS_OF_OUT_OF_RANGE' })
})
