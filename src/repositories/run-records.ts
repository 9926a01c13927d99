/**
 * What the records of every kind of long-running run share (sync runs, exports): one partition of the sync
 * table per kind, updates made only while a run is live (queued or running), and the move to running.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb'
import { documentClient, updateWhileLive, type DynamoDBDocumentClient, type Item } from './dynamo.ts'

export class RunRecords {
  protected readonly db: DynamoDBDocumentClient
  protected readonly table: string

  constructor(
    options: { dynamodb: DynamoDBClient; table: string },
    private readonly partition: string
  ) {
    this.db = documentClient(options.dynamodb)
    this.table = options.table
  }

  /** Writes a new run's record; its id is new, so an existing one is a bug, refused by the condition. */
  protected async putNew(item: { pk: string; sk: string }): Promise<void> {
    await this.db.send(
      new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' })
    )
  }

  /** A run's record, read consistently; undefined when there is none. */
  protected async read(id: string): Promise<Item | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { pk: this.partition, sk: id }, ConsistentRead: true })
    )
    return Item
  }

  /** One update of a record while its run is live: the record as it is now, undefined when the run had ended. */
  protected async updateLive(
    id: string,
    update: string,
    values: Record<string, unknown>,
    names: Record<string, string> = {}
  ): Promise<Item | undefined> {
    return await updateWhileLive(this.db, this.table, { pk: this.partition, sk: id }, update, values, names)
  }

  /** Marks the run running in slice `hop`: its record as it is now, or undefined when it has ended (or never was). */
  protected async markRunningRecord(id: string, hop: number): Promise<Item | undefined> {
    return await this.updateLive(
      id,
      'SET #status = :running, hops = :hop, updatedAt = :now, startedAt = if_not_exists(startedAt, :now)',
      { ':hop': hop, ':now': Date.now() }
    )
  }
}
