/**
 * How often a slice goes to the runs repository (besides the checkpoints of
 * vault-sync.ts): the run is marked running and read back in one write, and a
 * vault's outcome answers its counters, so neither is read again.
 */
import t from 'tap'
import type { Continuation } from '../../src/aws/lambda-events.ts'
import type { SyncRunsRepository } from '../../src/repositories/sync-runs.ts'
import { sampleVault, syncBed } from '../fixtures/sync.ts'
import type { TestTap } from '../helper.ts'

/** The calls made to the repository's methods by name, counted while they go through to the real table. */
function countMethods(repository: SyncRunsRepository): Map<string, number> {
  const calls = new Map<string, number>()
  const methods = ['get', 'progress', 'markRunning', 'fixPlan', 'finishVault', 'finish', 'list', 'create'] as const
  for (const name of methods) {
    const real = repository[name].bind(repository) as (...args: unknown[]) => Promise<unknown>
    Object.assign(repository, {
      [name]: async (...args: unknown[]) => {
        calls.set(name, (calls.get(name) ?? 0) + 1)
        return await real(...args)
      }
    })
  }
  return calls
}

const launched: Continuation[] = []
const capture = () => ({
  launch: async (next: Continuation) => {
    launched.push(next)
  },
  close: async () => {}
})

/** A bed whose launcher only records, a one-vault run recorded (not launched), and the runs repository counted from then on. */
async function recordedRun(t: TestTap, notes: number) {
  const bed = await syncBed(t, { build: { sync: { launcher: capture } } })
  await sampleVault(bed, notes)
  const run = await bed.app.sync.runs.start(
    { vaultId: bed.vault.id, syncType: 'complete', trigger: 'cli' },
    { launch: false }
  )
  return { bed, run, calls: countMethods(bed.app.syncRunsRepository) }
}

t.test('a slice that ends its one-vault run: 6 calls, no read of the run, the progress read twice', async t => {
  const { bed, run, calls } = await recordedRun(t, 2)
  await bed.app.sync.slices.run({ runId: run.runId, hop: 1 }, Date.now() + 60_000)
  t.same(Object.fromEntries(calls), { markRunning: 1, fixPlan: 1, progress: 2, finishVault: 1, finish: 1 })
})

t.test('slices that pause: the first 3 calls (it fixes the plan), each later one 2', async t => {
  const { bed, run, calls } = await recordedRun(t, 6)
  launched.length = 0
  // Out of time from the start: each slice moves the vault forward by one change, then launches the next.
  await bed.app.sync.slices.run({ runId: run.runId, hop: 1 }, Date.now())
  t.same(launched, [{ runId: run.runId, hop: 2, token: launched[0]?.token }], 'the next slice was launched')
  t.same(Object.fromEntries(calls), { markRunning: 1, fixPlan: 1, progress: 1 })
  calls.clear()
  await bed.app.sync.slices.run(launched[0]!, Date.now())
  t.same(Object.fromEntries(calls), { markRunning: 1, progress: 1 })
  t.equal(launched.length, 2)
})
