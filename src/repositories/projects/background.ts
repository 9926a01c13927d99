/**
 * The projection in the background of a long-running process (`npm run dev`,
 * `npm start`): after an append answers, one run per project at a time, and
 * one more when batches landed while it ran. Lambda freezes a process between
 * invocations, so there the table's stream drives the projection instead
 * (its batching window gathers batches the same way).
 */
import { AsyncResource } from 'node:async_hooks'
import { setImmediate as afterIo, setTimeout as sleep } from 'node:timers/promises'

export class BackgroundRuns {
  private readonly running = new Map<string, Promise<void>>()
  private readonly again = new Set<string>()
  /** Runs start in the context this was made in, not in the request that asked for them. */
  private readonly scope = new AsyncResource('projects-background')

  constructor(
    private readonly run: (projectId: string) => Promise<unknown>,
    private readonly onError: (err: unknown, what: string) => void,
    /** How long a run that follows another waits for more batches. */
    private readonly gatherMs: number
  ) {}

  schedule(projectId: string): void {
    if (this.running.has(projectId)) {
      this.again.add(projectId)
      return
    }
    this.running.set(
      projectId,
      this.scope.runInAsyncScope(() => this.runUntilQuiet(projectId))
    )
  }

  /** Resolves once no run is under way (a process closing waits for them). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running.values())
  }

  private async runUntilQuiet(projectId: string): Promise<void> {
    try {
      for (let runs = 0; runs === 0 || this.again.has(projectId); runs++) {
        this.again.delete(projectId)
        // The first run starts at once. When appends landed while it ran they keep coming: the next run waits a
        // moment to take more of them at once, since what a run costs beyond its writes (the lease, the head,
        // the page's Query and META) is the same for one batch or a hundred.
        await (runs === 0 ? afterIo() : sleep(this.gatherMs))
        await this.run(projectId)
      }
    } catch (err) {
      this.onError(err, `projecting ${projectId} in the background`)
    } finally {
      this.running.delete(projectId)
    }
  }
}
