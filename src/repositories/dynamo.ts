/**
 * DynamoDB as every repository uses it: one Document client per DynamoDB
 * client, conditional writes whose failed condition is an answer rather than
 * an exception, and the operations that take more than one
 * request (every page of a Query, every item of a batch write or get).
 */
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import {
  BatchGetCommand,
  UpdateCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput
} from '@aws-sdk/lib-dynamodb'
import { unmarshall } from '@aws-sdk/util-dynamodb'
import { DYNAMODB_BACKOFF, withRetries } from '../core/retry.ts'

/** The document client every repository writes through (one per DynamoDB client: documentClient). */
export type { DynamoDBDocumentClient }

export type Item = Record<string, unknown>
type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } }

const BATCH_WRITE = 25
const BATCH_GET = 100

/** What a batch left unprocessed after an attempt; retried with the DynamoDB backoff. */
class Unprocessed extends Error {}
const UNPROCESSED_RETRY = { ...DYNAMODB_BACKOFF, retryable: (err: unknown) => err instanceof Unprocessed }

const documentClients = new WeakMap<DynamoDBClient, DynamoDBDocumentClient>()

/** The Document client of this DynamoDB client, made once and shared by every repository. */
export function documentClient(dynamodb: DynamoDBClient): DynamoDBDocumentClient {
  let db = documentClients.get(dynamodb)
  if (db === undefined) {
    db = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } })
    documentClients.set(dynamodb, db)
  }
  return db
}

/**
 * A conditional write's outcome. When its condition failed, `current` is the
 * item as it was, where the request asked for it
 * (`ReturnValuesOnConditionCheckFailure: 'ALL_OLD'`) and the engine returns it:
 * DynamoDB and DynamoDB Local do, dynalite does not, so callers fall back to a
 * read.
 */
export type Conditional<T> = { held: true; result: T } | { held: false; current: Item | undefined }

export async function conditional<T>(write: Promise<T>): Promise<Conditional<T>> {
  try {
    return { held: true, result: await write }
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err
    return { held: false, current: err.Item === undefined ? undefined : unmarshall(err.Item) }
  }
}

/** True when the write landed, false when its condition did not hold; any other failure throws. */
export async function conditionHolds(write: Promise<unknown>): Promise<boolean> {
  return (await conditional(write)).held
}

/** A sort key that orders by creation time, then id: `<createdAt, 15 digits>#<id>`. */
export const createdOrderKey = (createdAt: number, id: string): string => `${String(createdAt).padStart(15, '0')}#${id}`

/** Every item the query matches, page after page. Only for key ranges known to be small. */
export async function queryAll<T>(
  db: DynamoDBDocumentClient,
  input: Omit<QueryCommandInput, 'ExclusiveStartKey'>
): Promise<T[]> {
  const items: T[] = []
  let startKey: Record<string, unknown> | undefined
  do {
    const page = await db.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }))
    items.push(...((page.Items ?? []) as T[]))
    startKey = page.LastEvaluatedKey
  } while (startKey !== undefined)
  return items
}

/** One page of a partition's items in sort-key order (`descending`: last first), after `start` when given. */
export async function partitionPage(
  db: DynamoDBDocumentClient,
  table: string,
  pk: string,
  page: { limit: number; start?: Record<string, unknown>; descending?: boolean }
): Promise<{ items: Item[]; last?: Record<string, unknown> }> {
  const found = await db.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      ScanIndexForward: page.descending !== true,
      Limit: page.limit,
      ExclusiveStartKey: page.start
    })
  )
  return { items: found.Items ?? [], last: found.LastEvaluatedKey }
}

/**
 * Writes every request, 25 to a BatchWriteItem, retrying what DynamoDB leaves
 * unprocessed with backoff. Each request is its own single-item write: a batch
 * is not atomic, so callers must be fine with a prefix landing.
 */
export async function batchWriteAll(db: DynamoDBDocumentClient, table: string, all: WriteRequest[]): Promise<void> {
  for (let i = 0; i < all.length; i += BATCH_WRITE) {
    let requests = all.slice(i, i + BATCH_WRITE)
    await withRetries(async () => {
      const { UnprocessedItems } = await db.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }))
      requests = (UnprocessedItems?.[table] ?? []) as WriteRequest[]
      if (requests.length > 0) throw new Unprocessed(`${requests.length} writes to ${table} stayed unprocessed`)
    }, UNPROCESSED_RETRY)
  }
}

/**
 * Every item of these keys that exists (consistent reads), 100 to a BatchGetItem, retrying what is left
 * unprocessed; only the `attributes` named, when given. Keys must be distinct (DynamoDB refuses a repeated key).
 */
export async function batchGetAll<T>(
  db: DynamoDBDocumentClient,
  table: string,
  keys: Item[],
  attributes?: string[]
): Promise<T[]> {
  const items: T[] = []
  const projection =
    attributes === undefined
      ? {}
      : {
          ProjectionExpression: attributes.map((_, i) => `#a${i}`).join(', '),
          ExpressionAttributeNames: Object.fromEntries(attributes.map((name, i) => [`#a${i}`, name]))
        }
  for (let i = 0; i < keys.length; i += BATCH_GET) {
    let pending = keys.slice(i, i + BATCH_GET)
    await withRetries(async () => {
      const got = await db.send(
        new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true, ...projection } } })
      )
      items.push(...((got.Responses?.[table] ?? []) as T[]))
      pending = (got.UnprocessedKeys?.[table]?.Keys ?? []) as Item[]
      if (pending.length > 0) throw new Unprocessed(`${pending.length} reads from ${table} stayed unprocessed`)
    }, UNPROCESSED_RETRY)
  }
  return items
}

/**
 * One update of a run's item (any kind's: RunStatus) made only while the run has not ended (its status queued or
 * running): the item as it is now, undefined when it had ended or never was. Runs end once this way.
 */
export async function updateWhileLive(
  db: DynamoDBDocumentClient,
  table: string,
  key: Item,
  update: string,
  values: Record<string, unknown>,
  names: Record<string, string> = {}
): Promise<Item | undefined> {
  const written = await conditional(
    db.send(
      new UpdateCommand({
        TableName: table,
        Key: key,
        UpdateExpression: update,
        ConditionExpression: 'attribute_exists(pk) AND #status IN (:queued, :running)',
        ExpressionAttributeNames: { '#status': 'status', ...names },
        ExpressionAttributeValues: { ':queued': 'queued', ':running': 'running', ...values },
        ReturnValues: 'ALL_NEW'
      })
    )
  )
  return written.held ? (written.result.Attributes as Item) : undefined
}
