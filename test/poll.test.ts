import t from 'tap'
import { poll } from '../src/core/poll.ts'

/** A check answering `answer` on call `on` (1-based) and `undefined` before; counts its calls and their times. */
function answeringOn<T>(on: number, answer: T) {
  const at: number[] = []
  const check = async () => {
    at.push(Date.now())
    return at.length >= on ? answer : undefined
  }
  return { at, check }
}

t.test('resolves with the first answer, checking every intervalMs', async t => {
  const { at, check } = answeringOn(3, 'ready')
  t.equal(await poll(check, { intervalMs: 20, timeoutMs: 10_000 }), 'ready')
  t.equal(at.length, 3)
  for (let i = 1; i < at.length; i++) t.ok(at[i]! - at[i - 1]! >= 18, `pause ${i} lasted an interval`)
})

t.test('an answer at once means one check and no pause', async t => {
  const { at, check } = answeringOn(1, 0)
  t.equal(await poll(check, { intervalMs: 10_000, timeoutMs: 10_000 }), 0, 'a falsy answer is an answer')
  t.equal(at.length, 1)
})

t.test('resolves undefined at the deadline, after a last check there and not a pause past it', async t => {
  const { at, check } = answeringOn(Infinity, 'never')
  const started = Date.now()
  t.equal(await poll(check, { intervalMs: 60_000, timeoutMs: 100 }), undefined)
  t.equal(at.length, 2, 'a check at the start and one at the deadline')
  t.ok(at[1]! - started >= 95)
  t.ok(Date.now() - started < 60_000, 'the pause was cut to the deadline')
})

t.test('with maxIntervalMs the pauses double up to it', async t => {
  const { at, check } = answeringOn(5, 'done')
  await poll(check, { intervalMs: 20, maxIntervalMs: 60, timeoutMs: 10_000 })
  const pauses = at.slice(1).map((time, i) => time - at[i]!)
  for (const [i, least] of [20, 40, 60, 60].entries()) t.ok(pauses[i]! >= least - 2, `pause ${i} >= ${least}`)
})

t.test('an aborted signal stops before the next pause', async t => {
  const controller = new AbortController()
  let calls = 0
  const check = async () => {
    calls++
    if (calls === 2) controller.abort()
    return undefined
  }
  t.equal(await poll(check, { intervalMs: 10, timeoutMs: 10_000, signal: controller.signal }), undefined)
  t.equal(calls, 2)
})

t.test("a check's failure rejects the poll", async t => {
  await t.rejects(
    poll(
      async () => {
        throw new Error('gone')
      },
      { intervalMs: 10 }
    ),
    { message: 'gone' }
  )
})
