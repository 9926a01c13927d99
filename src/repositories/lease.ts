/**
 * The one lease of the service: who may work on something now, and until
 * when, as two attributes of a DynamoDB item.
 *
 *   acquire  one conditional update of owner + expiry: the lease is free (never
 *            taken, released, or expired) or already this owner's. It answers
 *            the item as it was before, so the caller learns whose expired
 *            lease it took over, and what else the item holds.
 *   renew    moves the expiry on, on condition that the owner is still the same.
 *   release  on the same condition: deletes the item when the lease is an item
 *            of its own, or lets the lease lapse when it lives on an item that
 *            stays (the projection's META).
 *
 * A holder that dies keeps the lease until it expires; then anyone may take it.
 * Used by the vault lease of /sync (sync-vaults.ts) and the projection's lease
 * on META (projects/projection.ts).
 */
import { DeleteCommand, GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { ttlFromMillis } from '../expiry.ts'
import { conditional, conditionHolds, type Item } from './dynamo.ts'

export interface LeaseOptions {
  db: DynamoDBDocumentClient
  table: string
  /** The attributes that hold the lease's owner and its expiry (epoch ms). */
  ownerAttribute: string
  untilAttribute: string
  /**
   * `item`: the lease is an item of its own, deleted on release and given a TTL this long after its
   * expiry. `attributes`: the lease lives on an item that must already exist and stays (no TTL).
   */
  placement: { item: { ttlAfterMs: number } } | { attributes: true }
}

export type Acquired =
  | {
      acquired: true
      /** The owner of an expired lease this acquisition took over. */
      tookOverFrom?: string
      /** The item as it is now the lease is ours. */
      item: Item
    }
  | { acquired: false; /** The current owner; empty when it let go between the write and the read. */ holder: string }

export type LeaseKey = Record<string, string>

export class Lease {
  private readonly names: Record<string, string>

  constructor(private readonly options: LeaseOptions) {
    this.names = { '#owner': options.ownerAttribute, '#until': options.untilAttribute }
  }

  /** Takes the lease for `leaseMs` when it is free, expired or already `owner`'s. */
  async acquire(key: LeaseKey, owner: string, leaseMs: number): Promise<Acquired> {
    const now = Date.now()
    const until = now + leaseMs
    const placed = 'item' in this.options.placement
    const free = '(attribute_not_exists(#until) OR #until < :now OR #owner = :owner)'
    const outcome = await conditional(
      this.options.db.send(
        new UpdateCommand({
          TableName: this.options.table,
          Key: key,
          UpdateExpression: `SET #owner = :owner, #until = :until${this.ttl.set}`,
          ConditionExpression: placed ? free : `attribute_exists(pk) AND ${free}`,
          ExpressionAttributeNames: { ...this.names, ...this.ttl.names },
          ExpressionAttributeValues: { ':owner': owner, ':until': until, ':now': now, ...this.ttl.values(until) },
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD'
        })
      )
    )
    if (outcome.held) {
      const before = (outcome.result.Attributes ?? {}) as Item
      const previous = before[this.options.ownerAttribute] as string | undefined
      // Another owner's lease that was still set (not released): it expired, and this acquisition took it over.
      const tookOver =
        previous !== undefined && previous !== owner && Number(before[this.options.untilAttribute] ?? 0) > 0
      return {
        acquired: true,
        tookOverFrom: tookOver ? previous : undefined,
        item: { ...key, ...before, [this.options.ownerAttribute]: owner, [this.options.untilAttribute]: until }
      }
    }
    const current = outcome.current ?? (await this.read(key))
    return { acquired: false, holder: String(current?.[this.options.ownerAttribute] ?? '') }
  }

  /** Extends `owner`'s lease to `leaseMs` from now; false when the lease is no longer `owner`'s. */
  async renew(key: LeaseKey, owner: string, leaseMs: number): Promise<boolean> {
    const until = Date.now() + leaseMs
    return await conditionHolds(
      this.options.db.send(
        new UpdateCommand({
          TableName: this.options.table,
          Key: key,
          UpdateExpression: `SET #until = :until${this.ttl.set}`,
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { ...this.names, ...this.ttl.names },
          ExpressionAttributeValues: { ':owner': owner, ':until': until, ...this.ttl.values(until) }
        })
      )
    )
  }

  /** Gives `owner`'s lease back; a lease that is no longer `owner`'s (it expired and was taken) is left alone. */
  async release(key: LeaseKey, owner: string): Promise<void> {
    const { db, table, placement } = this.options
    const mine = { TableName: table, Key: key, ConditionExpression: '#owner = :owner' }
    await conditionHolds(
      db.send(
        'item' in placement
          ? new DeleteCommand({
              ...mine,
              ExpressionAttributeNames: { '#owner': this.options.ownerAttribute },
              ExpressionAttributeValues: { ':owner': owner }
            })
          : new UpdateCommand({
              ...mine,
              UpdateExpression: 'SET #until = :zero',
              ExpressionAttributeNames: this.names,
              ExpressionAttributeValues: { ':owner': owner, ':zero': 0 }
            })
      )
    )
  }

  /** The item that holds the lease, as it is now. */
  async read(key: LeaseKey): Promise<Item | undefined> {
    const { Item } = await this.options.db.send(
      new GetCommand({ TableName: this.options.table, Key: key, ConsistentRead: true })
    )
    return Item
  }

  /** A lease item of its own expires this long after the lease does; one on an item that stays has no TTL. */
  private get ttl(): { set: string; names: Record<string, string>; values: (until: number) => Record<string, number> } {
    const { placement } = this.options
    if (!('item' in placement)) return { set: '', names: {}, values: () => ({}) }
    return {
      set: ', #ttl = :ttl',
      names: { '#ttl': 'ttl' },
      values: until => ({ ':ttl': ttlFromMillis(until + placement.item.ttlAfterMs) })
    }
  }
}
