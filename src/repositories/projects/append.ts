/**
 * Appending a batch, and idempotency per changeId (`C#` receipts).
 * The protocol is described in ./index.ts.
 */
import { randomUUID } from 'node:crypto'
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { ConflictError, ContentionError, InvalidInputError } from '../../core/errors.ts'
import { batchGetAll, batchWriteAll } from '../dynamo.ts'
import { backoff, DYNAMODB_BACKOFF } from '../../core/retry.ts'
import { latestSeqOf, type Batches } from './batches.ts'
import {
  batchKey,
  contentHash,
  projectKey,
  receiptKey,
  toChange,
  toStored,
  type BatchItem,
  type Change,
  type ChangeInput,
  type ReceiptItem,
  type StoredChange
} from './items.ts'
import type { ProjectsMetrics } from './metrics.ts'
import type { Registry } from './registry.ts'

/** A change as an append answers it: `duplicate` when its changeId had landed before and nothing was written. */
export type AppendedChange = Change & { duplicate: boolean }

const MAX_APPEND_ATTEMPTS = 200

export interface AppenderOptions {
  db: DynamoDBDocumentClient
  table: string
  batches: Batches
  registry: Registry
  inlineBatchBytes: number
  /** Told of every batch that landed, once it is durable. */
  onAppended: (projectId: string) => void
  metrics: ProjectsMetrics
  /** Told of a failure after the batch landed, which the client is not told of. */
  onError: (err: unknown, what: string) => void
}

export class Appender {
  /** The last batch this process knows has its receipts, per project: saves a write per append. */
  private readonly finalized = new Map<string, string>()
  /** Per project, the end of the queue of this process's appends. */
  private readonly turns = new Map<string, Promise<void>>()

  constructor(private readonly options: AppenderOptions) {}

  /** Appends the changes whose changeIds have not landed yet as one batch of consecutive seqs. */
  async append(projectId: string, inputs: ChangeInput[]): Promise<AppendedChange[]> {
    const changes = inputs.map(toStored)
    const ids = changeIdsOf(changes)
    const hashes = ids === undefined ? undefined : changes.map(contentHash)
    const pk = projectKey(projectId)
    // Appends to one project from one process take turns: racing each other for the same slot, they would
    // mostly lose and go around again. Other processes still race, and the conditional put settles it.
    const previous = this.turns.get(pk) ?? Promise.resolve()
    let done = () => {}
    const finished = new Promise<void>(resolve => (done = resolve))
    const turn = previous.then(() => finished)
    this.turns.set(pk, turn)
    await previous
    try {
      return await this.appendInTurn(projectId, pk, changes, ids, hashes)
    } finally {
      done()
      if (this.turns.get(pk) === turn) this.turns.delete(pk)
    }
  }

  private async appendInTurn(
    projectId: string,
    pk: string,
    changes: StoredChange[],
    ids: string[] | undefined,
    hashes: string[] | undefined
  ): Promise<AppendedChange[]> {
    const { batches, registry } = this.options
    const createdAt = new Date().toISOString()
    const writer = randomUUID()
    let staged: { of: string; stagingId: string } | undefined

    for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
      const head = await batches.head(pk)
      if (head.meta === undefined) await registry.register(projectId, createdAt)
      // Every batch before the tail has its receipts: its successor's writer wrote them before putting it.
      if (head.tail?.changeIds !== undefined) await this.finalize(head.tail)
      const landed = ids === undefined ? new Map<number, ReceiptItem>() : await this.receipts(pk, ids, hashes!)
      const fresh = changes.flatMap((_, i) => (landed.has(i) ? [] : [i]))
      const first = latestSeqOf(head) + 1
      if (fresh.length === 0) {
        await this.options.metrics.appended(changes.length, 0)
        return this.answer(projectId, changes, landed, fresh, first, createdAt)
      }

      const freshChanges = fresh.map(i => changes[i]!)
      const body = JSON.stringify(freshChanges)
      const inline = Buffer.byteLength(body, 'utf8') <= this.options.inlineBatchBytes
      // Staged once, and again only when another attempt finds other changes landed meanwhile.
      if (!inline && staged?.of !== fresh.join())
        staged = { of: fresh.join(), stagingId: await batches.stage(pk, freshChanges) }
      const batch: BatchItem = {
        pk,
        sk: batchKey(first),
        first,
        count: fresh.length,
        createdAt,
        writer,
        ...(inline ? { body } : { stagingId: staged!.stagingId }),
        ...(ids === undefined ? {} : { changeIds: fresh.map(i => ids[i]!), hashes: fresh.map(i => hashes![i]!) })
      }
      if (!(await batches.put(batch))) {
        await backoff(attempt + 1, { ...DYNAMODB_BACKOFF, capMs: 20 })
        continue
      }
      // The batch is durable: what follows saves others work, and its failure is not the client's.
      if (batch.changeIds !== undefined)
        await this.finalize(batch).catch(err => this.options.onError(err, 'writing receipts'))
      this.options.onAppended(projectId)
      await this.options.metrics.appended(changes.length, fresh.length)
      return this.answer(projectId, changes, landed, fresh, first, createdAt)
    }
    throw new ContentionError(
      'WRITE_CONTENTION',
      `Project ${projectId} is being written too often to take this batch; retry`
    )
  }

  private answer(
    projectId: string,
    changes: StoredChange[],
    landed: Map<number, ReceiptItem>,
    fresh: number[],
    first: number,
    createdAt: string
  ): AppendedChange[] {
    return changes.map((change, i) => {
      const receipt = landed.get(i)
      if (receipt !== undefined)
        return { ...toChange(projectId, receipt.seq, receipt.createdAt, change), duplicate: true }
      return { ...toChange(projectId, first + fresh.indexOf(i), createdAt, change), duplicate: false }
    })
  }

  /** Which of the changes have landed already, by index; 409 when one landed with other content. */
  private async receipts(pk: string, ids: string[], hashes: string[]): Promise<Map<number, ReceiptItem>> {
    const found = await batchGetAll<ReceiptItem & { sk: string }>(
      this.options.db,
      this.options.table,
      ids.map(id => ({ pk, sk: receiptKey(id) }))
    )
    const bySk = new Map(found.map(item => [item.sk, item]))
    const landed = new Map<number, ReceiptItem>()
    ids.forEach((id, i) => {
      const receipt = bySk.get(receiptKey(id))
      if (receipt === undefined) return
      if (receipt.hash !== hashes[i])
        throw new ConflictError(
          'CHANGE_ID_REUSED',
          `changeId ${id} was sent before with other content; a retry must repeat the change as it was`
        )
      landed.set(i, receipt)
    })
    return landed
  }

  /** Writes the batch's receipts. Unconditional puts are safe: a changeId lands in one batch only, so every write of a receipt is the same. */
  private async finalize(batch: BatchItem): Promise<void> {
    if (this.finalized.get(batch.pk) === batch.sk) return
    await batchWriteAll(
      this.options.db,
      this.options.table,
      batch.changeIds!.map((id, i) => ({
        PutRequest: {
          Item: {
            pk: batch.pk,
            sk: receiptKey(id),
            seq: batch.first + i,
            hash: batch.hashes![i]!,
            createdAt: batch.createdAt
          }
        }
      }))
    )
    if (this.finalized.size > 10_000) this.finalized.clear()
    this.finalized.set(batch.pk, batch.sk)
  }
}

/** The request's changeIds, set on every change or on none. */
function changeIdsOf(changes: StoredChange[]): string[] | undefined {
  const ids = changes.flatMap(c => (c.changeId === undefined ? [] : [c.changeId]))
  if (ids.length === 0) return undefined
  if (ids.length !== changes.length)
    throw new InvalidInputError('CHANGE_ID_PARTIAL', 'changeId must be set on every change of a request or on none')
  if (new Set(ids).size !== ids.length)
    throw new InvalidInputError('CHANGE_ID_REPEATED', 'a changeId appears twice in the request')
  return ids
}
