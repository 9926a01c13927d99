/**
 * What every kind of long-running run shares: /sync's runs today, exports and
 * restores next. A run is recorded, its slices outlive an invocation (each
 * launches the next through the launcher, on Lambda as a continuation event),
 * and callers poll it by id, waiting up to `?wait=`. A kind brings only what is
 * its own:
 *
 *   - its record: how a run of it is read and ended (RunBook), for RunTracker,
 *     which launches the first slice, ends a run that stopped being worked on
 *     and waits for a run's end;
 *   - its slice runner (SliceWorker), registered under its RunKind in
 *     SliceRunners, through which every continuation is dispatched: the Lambda
 *     handler's and the in-process launcher's alike.
 *
 * A continuation carries its kind (src/aws/lambda-events.ts; none means 'sync').
 */
import type { Continuation, RunKind } from '../aws/lambda-events.ts'
import { poll } from '../core/poll.ts'
import type { RunStatus } from '../repositories/sync-runs.ts'
import { FINAL_STATUSES } from '../repositories/sync-runs.ts'
import type { SyncLauncher } from './launcher.ts'

/** One kind's slices: each works on a run until its deadline, then launches the next or ends the run. */
export interface SliceWorker {
  /** One slice of a run of this kind, working until `deadline` (epoch ms). */
  runSlice: (next: Continuation, deadline: number) => Promise<void>
  /** Stops this process's slices at their next change (the process is closing). */
  stop: () => void
}

/** Every kind's slice runner, by kind. */
export class SliceRunners {
  private readonly workers = new Map<RunKind, SliceWorker>()

  register(kind: RunKind, worker: SliceWorker): void {
    if (this.workers.has(kind)) throw new Error(`A slice runner for ${kind} runs is registered already`)
    this.workers.set(kind, worker)
  }

  /** Runs the continuation's slice with its kind's runner. */
  async run(next: Continuation, deadline: number): Promise<void> {
    const kind = next.kind ?? 'sync'
    const worker = this.workers.get(kind)
    if (worker === undefined) throw new Error(`No slice runner for ${kind} runs`)
    await worker.runSlice(next, deadline)
  }

  /** Stops every kind's slices at their next change. */
  stop(): void {
    for (const worker of this.workers.values()) worker.stop()
  }
}

/** What RunTracker needs of a run: its id, where it is, when a slice last worked on it. */
export interface TrackedRun {
  runId: string
  status: RunStatus
  updatedAt: number
}

/** A kind's runs as RunTracker reads and ends them. */
export interface RunBook<R extends TrackedRun> {
  kind: RunKind
  read: (runId: string) => Promise<R | undefined>
  /** Ends the run, failed, with these run-level errors (a run whose first slice could not be launched). */
  end: (run: R, errors: string[]) => Promise<void>
  /** Ends a run no slice has worked on for `idleMs` (its slice died): as what it got to, or as interrupted. */
  endIdle: (run: R, idleMs: number) => Promise<void>
  /** The error a read of a run that does not exist answers. */
  notFound: (runId: string) => Error
}

export interface RunTrackerOptions<R extends TrackedRun> {
  book: RunBook<R>
  launcher: SyncLauncher
  /** How long a run may go without a slice working on it (a lease's length) before it counts as dead. */
  leaseMs: number
}

/** Launches, settles and waits for the runs of one kind. */
export class RunTracker<R extends TrackedRun> {
  constructor(private readonly options: RunTrackerOptions<R>) {}

  /** Launches the run's first slice; a run that could not be launched is ended, and the error thrown. */
  async launchFirst(run: R, carried: Pick<Continuation, 'credentials' | 'targetPassword'> = {}): Promise<void> {
    const { book, launcher } = this.options
    try {
      await launcher.launch({
        ...(book.kind === 'sync' ? {} : { kind: book.kind }),
        runId: run.runId,
        hop: 1,
        ...carried
      })
    } catch (err) {
      await book.end(run, [`The run could not be started: ${(err as Error).message}`])
      throw err
    }
  }

  /** Launches the slice after `current`, with what it carries. */
  async launchNext(current: Continuation, carried: Pick<Continuation, 'token'> = {}): Promise<void> {
    await this.options.launcher.launch({ ...current, ...carried, hop: current.hop + 1 })
  }

  /** The run as it is, settled first; undefined when there is none. */
  async get(runId: string): Promise<R | undefined> {
    const run = await this.options.book.read(runId)
    return run === undefined ? undefined : await this.settled(run)
  }

  /**
   * A run no slice has worked on for a lease's length died with its slice (a
   * crash, a timeout, a continuation never delivered): it ends now, so it never
   * shows as running forever. A slice that still comes finds it ended.
   */
  async settled(run: R): Promise<R> {
    const idleMs = Date.now() - run.updatedAt
    if (FINAL_STATUSES.includes(run.status) || idleMs < this.options.leaseMs) return run
    await this.options.book.endIdle(run, idleMs)
    return (await this.options.book.read(run.runId)) ?? run
  }

  /** The run once it has ended, or as it is after `ms`. */
  async waitFor(runId: string, ms: number): Promise<R> {
    const { book } = this.options
    let run: R | undefined
    const ended = await poll(
      async () => {
        run = await book.read(runId)
        if (run === undefined) throw book.notFound(runId)
        return FINAL_STATUSES.includes(run.status) ? run : undefined
      },
      { intervalMs: 200, timeoutMs: ms }
    )
    return ended ?? run!
  }
}
