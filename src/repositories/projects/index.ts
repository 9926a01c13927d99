/**
 * Per-project change feeds (/projects) that never lose, skip or reorder a
 * change, with exactly-once appends per changeId. This facade is what the
 * routes and the Lambda handler see; one file per job beside it:
 * append.ts (appending, idempotency), read.ts (the feed, entities, stats),
 * projection.ts, page.ts and background.ts (the projection, its lease, one
 * page of it, and what drives it), metrics.ts (what CloudWatch is told),
 * registry.ts (known projects), batches.ts and items.ts (shared).
 *
 * Items, all in one table, under the partition `P#<projectId>` unless noted:
 *   L#<first seq>        a batch: the new changes of one append, seqs first .. first+count-1,
 *                        inline as JSON or, when too large for one item, in
 *   B#<stagingId>#<i>    one staged change each, written before the batch that points at them;
 *                        with changeIds, the batch also lists them and their content hashes;
 *                        `o<seq>` on a batch is outdatedBy of its change <seq>;
 *   C#<changeId>         a receipt: the seq a changeId landed at, and its content hash;
 *   E#<type>#<id>        an entity's latest change (its current state);
 *   META                 stats, how far the projection has got (`projectedSeq`), its lease;
 *   PROJECTS / <id>      (partition `PROJECTS`) the registry of known projects.
 * META sorts right after the last batch, so one descending Query reads both ("the head").
 *
 * Appending, single-item conditional writes only:
 *   1. Read the head (consistent). A new project gets META and its registry entry.
 *   2. If the last batch has changeIds, write its receipts ("finalize" it).
 *      Then read the receipts of this append's changeIds: those found landed
 *      before (same hash: answered with their seq; other content: 409).
 *   3. Put L#<last seq + 1> with the changes that did not land, on condition
 *      that it does not exist (large ones staged first). This one put is where
 *      seqs are decided and where the whole batch becomes visible at once.
 *      Losing it means another batch took the slot: go to 1.
 *   4. Durable: write this batch's receipts (a failure is not reported: the
 *      next writer's step 2 writes them) and answer.
 * A batch is only ever put right after the last batch a consistent read found,
 * so batches tile 1, 2, 3 … with no gap and no overlap, and a batch can exist
 * only after every smaller seq exists: a reader polling with since=lastSeq
 * sees each change once, in order. A writer that dies before 3 leaves nothing
 * visible (at most unreferenced staged items); after 3 its batch is complete.
 *
 * Exactly once per changeId: every writer finalizes the last batch before
 * putting a new one, so all batches but the last have their receipts, and the
 * writer that finalized the last one and found no receipt for a changeId knows
 * no batch up to its slot holds it. A retry racing its original loses the put
 * to it (or wins, and the original becomes the retry), reads the head again,
 * finalizes the original's batch and finds its receipts; a retry after a
 * writer died between 3 and 4 finalizes that batch itself. So a changeId lands
 * once, whatever the regrouping, and every receipt write for it is the same.
 *
 * Projection (entities, outdatedBy, stats) trails the feed, off the append's
 * path: whoever gets the META lease applies the batches after `projectedSeq`
 * in order, a page of them at a time (page.ts): the page's changes collapsed
 * per entity, every mark written before any pointer moves past its change,
 * E# only moving forward from the seq it was read at; each step idempotent,
 * and META advanced with one conditional update on `projectedSeq` per page,
 * so stats count each change exactly once. It is driven by
 * the table's stream (deployed), by a background run after each append in a
 * long-running process, and by the reads that need it (stats, entities,
 * includeOutdated=false) when they find it behind, so it never depends on
 * the trigger. A dead projector's lease expires and the next one takes over.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { MetricsSink } from '../../aws/emf.ts'
import { NotFoundError } from '../../core/errors.ts'
import { documentClient } from '../dynamo.ts'
import { Appender, type AppendedChange } from './append.ts'
import { BackgroundRuns } from './background.ts'
import { Batches, type SinceHint } from './batches.ts'
import { BATCH_PREFIX, firstOf, projectIdOf, type Change, type ChangeInput } from './items.ts'
import { ProjectsMetrics } from './metrics.ts'
import { Projector } from './projection.ts'
import { Reader, type ChangePage, type EntityRead, type ProjectStats, type ReadOptions } from './read.ts'
import { Registry, type ProjectSummary } from './registry.ts'

export type { AppendedChange, Change, ChangeInput, ChangePage, EntityRead, ProjectStats, ProjectSummary, ReadOptions }
export type { Operation } from './items.ts'

/** A project with no change yet: it has no stats. */
export const projectNotFound = (projectId: string): NotFoundError =>
  new NotFoundError('PROJECT_NOT_FOUND', `Project ${projectId} has no changes`)
export const changeNotFound = (projectId: string, seq: number): NotFoundError =>
  new NotFoundError('CHANGE_NOT_FOUND', `Project ${projectId} has no change ${seq}`)
export const entityNotFound = (projectId: string, entityType: string, entityId: string): NotFoundError =>
  new NotFoundError('ENTITY_NOT_FOUND', `Project ${projectId} has no ${entityType} ${entityId}`)

/** A batch up to this size is one item; larger batches stage their changes (DynamoDB items hold 400 KB). */
const INLINE_BATCH_BYTES = 300 * 1024
const LEASE_MS = 10_000
/** How long a read helps the projection catch up before it answers with what there is. */
const CATCH_UP_MS = 2_000
/** A background run keeps on until the projection has caught up, a dead projector's lease lapsing included. */
const BACKGROUND_MS = 60_000
/** A background run that follows another waits for this many batches, or this long, to project them at once. */
const GATHERING = { batches: 8, ms: 500 }

export interface ProjectsRepositoryOptions {
  dynamodb: DynamoDBClient
  table: string
  /** Overridable so tests can stage batches without sending 300 KB. */
  inlineBatchBytes?: number
  /** How long a projector may hold the lease before another may take over (tests shorten it). */
  leaseMs?: number
  /** Project after each append in this process's background (a long-running server; not on Lambda). */
  projectInBackground?: boolean
  /** Told of failures no caller sees: background runs, receipts after a landed batch, metrics. */
  onError?: (err: unknown, what: string) => void
  /** Where the metrics (./metrics.ts) go, as embedded-metric-format lines; none by default. */
  metricsSink?: MetricsSink
}

export class ProjectsRepository {
  private readonly appender: Appender
  private readonly reader: Reader
  private readonly projector: Projector
  private readonly registry: Registry
  private readonly background: BackgroundRuns

  constructor(options: ProjectsRepositoryOptions) {
    const db = documentClient(options.dynamodb)
    const { table } = options
    const onError = options.onError ?? (() => {})
    const batches = new Batches(db, table)
    const metrics = new ProjectsMetrics(options.metricsSink, onError)
    this.registry = new Registry(db, table)
    this.projector = new Projector(db, table, batches, options.leaseMs ?? LEASE_MS, metrics)
    this.reader = new Reader(db, table, batches, this.projector, CATCH_UP_MS)
    // Scheduled by an append that landed: the projection is behind, no need to read the head to know it.
    this.background = new BackgroundRuns(
      projectId => this.projector.catchUp(projectId, BACKGROUND_MS, 'behind'),
      onError,
      GATHERING
    )
    this.appender = new Appender({
      db,
      table,
      batches,
      registry: this.registry,
      inlineBatchBytes: options.inlineBatchBytes ?? INLINE_BATCH_BYTES,
      onAppended: options.projectInBackground === true ? projectId => this.background.schedule(projectId) : () => {},
      metrics,
      onError
    })
  }

  /** Appends the changes whose changeIds have not landed as one batch of consecutive seqs; the others get their first seq. */
  append(projectId: string, inputs: ChangeInput[]): Promise<AppendedChange[]> {
    return this.appender.append(projectId, inputs)
  }

  /** Changes after `since`, ascending; `hint`, kept across one client's polls, saves a Query a poll. */
  read(projectId: string, options: ReadOptions, hint?: SinceHint): Promise<ChangePage> {
    return this.reader.read(projectId, options, hint)
  }

  readOrWait(projectId: string, options: ReadOptions, waitMs: number, signal?: AbortSignal): Promise<ChangePage> {
    return this.reader.readOrWait(projectId, options, waitMs, signal)
  }

  change(projectId: string, seq: number): Promise<Change | undefined> {
    return this.reader.change(projectId, seq)
  }

  /** The entity's latest change, and how far the projection had got when it was read. */
  entity(projectId: string, entityType: string, entityId: string): Promise<EntityRead> {
    return this.reader.entity(projectId, entityType, entityId)
  }

  stats(projectId: string): Promise<ProjectStats | undefined> {
    return this.reader.stats(projectId)
  }

  list(limit: number, after?: string): Promise<{ projects: ProjectSummary[]; next?: string }> {
    return this.registry.list(limit, after)
  }

  /** Catches the project's projection up with its feed, for up to `budgetMs`; returns the seq it reached. */
  async project(projectId: string, budgetMs = CATCH_UP_MS): Promise<number> {
    return (await this.projector.catchUp(projectId, budgetMs)).meta?.projectedSeq ?? 0
  }

  /**
   * For the table's stream: the keys of written items. Catches up every
   * project a batch landed in, and throws when one stays behind a batch
   * (another projector's lease not yet lapsed), so the records are retried.
   */
  async projectWritten(
    keys: Array<Record<string, unknown>>,
    budgetMs = CATCH_UP_MS
  ): Promise<Array<{ projectId: string; projectedSeq: number }>> {
    const landed = new Map<string, number>()
    for (const { pk, sk } of keys) {
      if (typeof pk !== 'string' || !pk.startsWith('P#') || typeof sk !== 'string' || !sk.startsWith(BATCH_PREFIX))
        continue
      const projectId = projectIdOf(pk)
      landed.set(projectId, Math.max(landed.get(projectId) ?? 0, firstOf(sk)))
    }
    const results = await Promise.allSettled(
      [...landed].map(async ([projectId, first]) => {
        const projectedSeq = await this.project(projectId, budgetMs)
        if (projectedSeq < first)
          throw new Error(`the projection of ${projectId} is at ${projectedSeq}, behind ${first}`)
        return { projectId, projectedSeq }
      })
    )
    const failed = results.flatMap(r => (r.status === 'rejected' ? [r.reason as unknown] : []))
    if (failed.length > 0) throw new AggregateError(failed, `${failed.length} projections stayed behind; retry`)
    return results.map(r => (r as PromiseFulfilledResult<{ projectId: string; projectedSeq: number }>).value)
  }

  /** Resolves once no background run is under way. */
  idle(): Promise<void> {
    return this.background.idle()
  }
}
