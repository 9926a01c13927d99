/**
 * The projection in the background of a long-running process (`npm run dev`,
 * `npm start`): after an append answers, one run per project at a time, and
 * one more when batches landed while it ran. Lambda freezes a process between
 * invocations, so there the table's stream drives the projection instead
 * (its batching window gathers batches the same way).
 */
import { AsyncResource } from 'node:async_hooks'
import { setImmediate as afterIo } from 'node:timers/promises'

/** When a run that follows another starts: once `batches` have landed since the last began, or after `ms`. */
export interface Gathering {
  batches: number
  ms: number
}

export class BackgroundRuns {
  private readonly running = new Map<string, Promise<void>>()
  /** Per project with a run under way, the batches that landed since it began. */
  private readonly landed = new Map<string, number>()
  /** Per project whose next run is gathering batches, what starts it early. */
  private readonly wake = new Map<string, () => void>()
  /** Runs start in the context this was made in, not in the request that asked for them. */
  private readonly scope = new AsyncResource('projects-background')

  constructor(
    private readonly run: (projectId: string) => Promise<unknown>,
    private readonly onError: (err: unknown, what: string) => void,
    private readonly gathering: Gathering
  ) {}

  schedule(projectId: string): void {
    if (this.running.has(projectId)) {
      const landed = (this.landed.get(projectId) ?? 0) + 1
      this.landed.set(projectId, landed)
      if (landed >= this.gathering.batches) this.wake.get(projectId)?.()
      return
    }
    this.landed.set(projectId, 0)
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
      for (let runs = 0; runs === 0 || this.landed.get(projectId)! > 0; runs++) {
        // The first run starts at once. When batches landed while it ran, they keep coming: the next run
        // gathers some before it starts, since what a run costs beyond its writes (the lease, the page's
        // Query and BatchGetItem, META) is the same for one batch or a hundred.
        if (runs === 0) await afterIo()
        else if (this.landed.get(projectId)! < this.gathering.batches) await this.gather(projectId)
        this.landed.set(projectId, 0)
        await this.run(projectId)
      }
    } catch (err) {
      this.onError(err, `projecting ${projectId} in the background`)
    } finally {
      this.running.delete(projectId)
      this.landed.delete(projectId)
    }
  }

  private async gather(projectId: string): Promise<void> {
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, this.gathering.ms)
      this.wake.set(projectId, () => {
        clearTimeout(timer)
        resolve()
      })
    })
    this.wake.delete(projectId)
  }
}
