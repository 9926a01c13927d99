import t from 'tap'
import { DYNAMODB_BACKOFF, OBSIDIAN_BACKOFF, retryDelay, withRetries } from '../src/core/retry.ts'

class Flaky extends Error {
  override message = 'flaky'
}
const policy = {
  attempts: 4,
  baseMs: 100,
  capMs: 250,
  jitter: 'none' as const,
  retryable: (e: unknown) => e instanceof Flaky
}

/** Work failing `failures` times with `error`, then answering 'done'; counts its calls. */
function failing(failures: number, error: () => Error = () => new Flaky()) {
  const calls = { n: 0 }
  const work = async () => {
    calls.n++
    if (calls.n <= failures) throw error()
    return 'done'
  }
  return { calls, work }
}

t.test('a retryable failure is tried again, waiting the capped exponential delays', async t => {
  const waits: number[] = []
  const { calls, work } = failing(3)
  t.equal(await withRetries(work, policy, async ms => waits.push(ms)), 'done')
  t.equal(calls.n, 4)
  t.same(waits, [100, 200, 250])
})

t.test('after `attempts` attempts the last failure is thrown', async t => {
  const waits: number[] = []
  const { calls, work } = failing(10)
  await t.rejects(
    withRetries(work, policy, async ms => waits.push(ms)),
    { message: 'flaky' }
  )
  t.equal(calls.n, 4)
  t.equal(waits.length, 3)
})

t.test('a failure that is not retryable fails at once, without waiting', async t => {
  const waits: number[] = []
  const { calls, work } = failing(1, () => new TypeError('settings'))
  await t.rejects(
    withRetries(work, policy, async ms => waits.push(ms)),
    TypeError
  )
  t.equal(calls.n, 1)
  t.same(waits, [])
})

t.test('full jitter waits in [0, d), half jitter in [d/2, d)', async t => {
  for (const failures of [1, 2, 3, 12]) {
    const d = Math.min(1000, 2 ** failures)
    t.equal(
      retryDelay(failures, DYNAMODB_BACKOFF, () => 0),
      0
    )
    t.equal(
      retryDelay(failures, DYNAMODB_BACKOFF, () => 0.999),
      d * 0.999
    )
    const o = 250 * 2 ** (failures - 1)
    t.equal(
      retryDelay(failures, OBSIDIAN_BACKOFF, () => 0),
      o / 2
    )
    t.equal(
      retryDelay(failures, OBSIDIAN_BACKOFF, () => 0.999),
      o * (0.5 + 0.999 / 2)
    )
  }
  t.equal(retryDelay(0, OBSIDIAN_BACKOFF), 0, 'nothing to wait before the first attempt')
})

t.test('the two policies keep their numbers', async t => {
  t.match(OBSIDIAN_BACKOFF, { attempts: 4, baseMs: 250, jitter: 'half' })
  t.match(DYNAMODB_BACKOFF, { attempts: 10, baseMs: 2, capMs: 1000, jitter: 'full' })
  const waits: number[] = []
  const { calls, work } = failing(20)
  await t.rejects(
    withRetries(
      work,
      { ...DYNAMODB_BACKOFF, retryable: () => true },
      async ms => waits.push(ms),
      () => 0.5
    ),
    { message: 'flaky' }
  )
  t.equal(calls.n, 10)
  t.same(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256])
})
