/**
 * One page of batches projected at once: the page's changes collapsed per
 * entity, one BatchGetItem for the pointers they touch, the outdatedBy marks
 * of each batch item in one UpdateItem, then one conditional write per
 * distinct entity, the writes of a step in parallel. The protocol is
 * described in ./index.ts.
 */
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { batchGetAll, conditionHolds } from '../dynamo.ts'
import {
  batchKey,
  entityKey,
  markAttribute,
  projectKey,
  type Change,
  type EntityItem,
  type StoredBatch
} from './items.ts'

/** Writes in flight at once per step: enough to hide a round trip, few enough not to be throttled in a burst. */
const PARALLEL = 16

/** What a page did to the stats. */
export interface PageResult {
  changes: Change[]
  /** Entities whose first change is in this page. */
  newEntities: number
}

/** Where an entity's pointer is, as far as the projection needs it. */
type Pointer = Pick<EntityItem, 'seq' | 'batchFirst' | 'firstSeq'>
const POINTER_ATTRIBUTES = ['sk', 'seq', 'batchFirst', 'firstSeq']

/** One entity's changes in the page, in seq order, and the batch each is in. */
interface Touched {
  sk: string
  changes: Array<{ change: Change; batchFirst: number }>
}

/**
 * `fn` of every item, in order, at most `limit` running at a time. After a
 * failure no item starts, and it is thrown once those running have ended: a
 * projector that fails leaves nothing of its own still writing.
 */
async function inParallel<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = []
  let next = 0
  let failure: { err: unknown } | undefined
  const worker = async () => {
    for (let i = next++; i < items.length && failure === undefined; i = next++) {
      try {
        results[i] = await fn(items[i]!)
      } catch (err) {
        failure ??= { err }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (failure !== undefined) throw failure.err
  return results
}

export class PageProjector {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string
  ) {}

  /**
   * Brings entity pointers and outdatedBy marks up to the end of `batches`
   * (consecutive, and every seq before the first already projected). Safe
   * to repeat, and safe beside another projector on the same or an
   * overlapping page: marks are the same whoever writes them, a mark is
   * written before the pointer moves past its change, and a pointer only
   * moves forward, from the seq it was read at.
   */
  async apply(projectId: string, batches: StoredBatch[], changesOf: (batch: StoredBatch) => Promise<Change[]>) {
    const pk = projectKey(projectId)
    const pageFirst = batches[0]!.first
    // A staged batch's changes take a Query of their own.
    const perBatch = await inParallel(batches, PARALLEL, changesOf)
    const touched = new Map<string, Touched>()
    batches.forEach((batch, b) => {
      for (const change of perBatch[b]!) {
        const sk = entityKey(change.entityType, change.entityId)
        let entity = touched.get(sk)
        if (entity === undefined) touched.set(sk, (entity = { sk, changes: [] }))
        entity.changes.push({ change, batchFirst: batch.first })
      }
    })
    const found = await batchGetAll<Pointer & { sk: string }>(
      this.db,
      this.table,
      [...touched.keys()].map(sk => ({ pk, sk })),
      POINTER_ATTRIBUTES
    )
    const pointers = new Map(found.map(item => [item.sk, item]))

    // Marks first: once a pointer has moved past a change, nobody reprojecting it would know to mark that change.
    const marks = new Map<number, Map<number, number>>()
    const mark = (batchFirst: number, seq: number, by: number) => {
      let batch = marks.get(batchFirst)
      if (batch === undefined) marks.set(batchFirst, (batch = new Map()))
      batch.set(seq, by)
    }
    for (const { sk, changes } of touched.values()) {
      for (let i = 0; i + 1 < changes.length; i++)
        mark(changes[i]!.batchFirst, changes[i]!.change.seq, changes[i + 1]!.change.seq)
      const pointer = pointers.get(sk)
      if (pointer !== undefined && pointer.seq < changes[0]!.change.seq)
        mark(pointer.batchFirst, pointer.seq, changes[0]!.change.seq)
    }
    const inPage = new Map(batches.map(batch => [batch.first, batch]))
    const unwritten = [...marks].filter(([first, batchMarks]) => {
      // A page projected again after a projector died: the marks it wrote are on the items already.
      const batch = inPage.get(first)
      return batch === undefined || [...batchMarks].some(([seq, by]) => batch[markAttribute(seq)] !== by)
    })
    await inParallel(unwritten, PARALLEL, ([first, batchMarks]) => this.writeMarks(pk, first, batchMarks))

    let newEntities = 0
    await inParallel([...touched.values()], PARALLEL, async entity => {
      const final = await this.moveEntity(pk, entity, pointers.get(entity.sk))
      if (final.firstSeq >= pageFirst) newEntities++
    })
    return { changes: perBatch.flat(), newEntities }
  }

  /** Every mark of one batch item in one UpdateItem. */
  private async writeMarks(pk: string, batchFirst: number, batchMarks: Map<number, number>): Promise<void> {
    const entries = [...batchMarks]
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk, sk: batchKey(batchFirst) },
        UpdateExpression: `SET ${entries.map((_, i) => `#m${i} = :m${i}`).join(', ')}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: Object.fromEntries(entries.map(([seq], i) => [`#m${i}`, markAttribute(seq)])),
        ExpressionAttributeValues: Object.fromEntries(entries.map(([, by], i) => [`:m${i}`, by]))
      })
    )
  }

  /**
   * Points the entity at its last change in the page unless it points there
   * or later already; returns the pointer as it ends. A lost condition means
   * another projector moved it: read it again and go on from there.
   */
  private async moveEntity(pk: string, entity: Touched, seen: Pointer | undefined): Promise<Pointer> {
    const first = entity.changes[0]!.change.seq
    const { change: last, batchFirst } = entity.changes.at(-1)!
    const key = { pk, sk: entity.sk }
    let current = seen
    for (let read = false; ; read = true) {
      if (read) {
        const { Item } = await this.db.send(
          new GetCommand({
            TableName: this.table,
            Key: key,
            ProjectionExpression: POINTER_ATTRIBUTES.map((_, i) => `#a${i}`).join(', '),
            ExpressionAttributeNames: Object.fromEntries(POINTER_ATTRIBUTES.map((name, i) => [`#a${i}`, name])),
            ConsistentRead: true
          })
        )
        current = Item as Pointer | undefined
        // Moved, by a projector behind this one, to a change before the page: its mark is this page's to write.
        if (current !== undefined && current.seq < first)
          await this.writeMarks(pk, current.batchFirst, new Map([[current.seq, first]]))
      }
      if (current !== undefined && current.seq >= last.seq) return current
      const next: EntityItem = {
        seq: last.seq,
        batchFirst,
        firstSeq: current?.firstSeq ?? first,
        change: JSON.stringify({ ...last, outdatedBy: undefined, deleted: last.operation === 'delete' })
      }
      const moved = await conditionHolds(
        this.db.send(
          new PutCommand({
            TableName: this.table,
            Item: { ...key, ...next },
            ConditionExpression: current === undefined ? 'attribute_not_exists(pk)' : 'seq = :seen',
            ExpressionAttributeValues: current === undefined ? undefined : { ':seen': current.seq }
          })
        )
      )
      if (moved) return next
    }
  }
}
