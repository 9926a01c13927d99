/**
 * The one lease of the service: who may work on something now, and until
 * when, as two attributes of a DynamoDB item.
 *
 *   acquire  one conditional update of owner + expiry: the lease is free (never
 *            taken, released, or expired) or already this owner's. It answers
 *            the item as it was before, so the caller learns whose expired
 *            lease it took over, and what else the item holds.
 *   renew    moves the expiry on, on condition that the owner is still the same.
 *   release  on the same condition: ItemLease deletes its item of its own (the
 *            vault lease of /sync, sync-vaults.ts); AttributeLease lets the
 *            lease lapse on an item that stays (the projection's META,
 *            projects/projection.ts).
 *
 * A holder that dies keeps the lease until it expires; then anyone may take it.
 */
import { DeleteCommand, GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { ttlFromMillis } from '../core/expiry.ts'
import { conditional, conditionHolds, type Item } from './dynamo.ts'

export interface LeaseOptions {
  db: DynamoDBDocumentClient
  table: string
  /** The attributes that hold the lease's owner and its expiry (epoch ms). */
  ownerAttribute: string
  untilAttribute: string
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

/** What the extra attributes a placement writes with the expiry look like in an update. */
interface Extra {
  set: string
  names: Record<string, string>
  values: Record<string, unknown>
}

abstract class Lease {
  protected readonly names: Record<string, string>

  constructor(protected readonly options: LeaseOptions) {
    this.names = { '#owner': options.ownerAttribute, '#until': options.untilAttribute }
  }

  /** A condition every acquisition adds (the item must exist), or none. */
  protected abstract readonly precondition: string | undefined
  /** What is written beside a new expiry. */
  protected abstract withExpiry(until: number): Extra
  /** Gives `owner`'s lease back; a lease that is no longer `owner`'s (it expired and was taken) is left alone. */
  abstract release(key: LeaseKey, owner: string): Promise<void>

  /** Takes the lease for `leaseMs` when it is free, expired or already `owner`'s. */
  async acquire(key: LeaseKey, owner: string, leaseMs: number): Promise<Acquired> {
    const { db, table, ownerAttribute, untilAttribute } = this.options
    const now = Date.now()
    const until = now + leaseMs
    const extra = this.withExpiry(until)
    const free = '(attribute_not_exists(#until) OR #until < :now OR #owner = :owner)'
    const outcome = await conditional(
      db.send(
        new UpdateCommand({
          TableName: table,
          Key: key,
          UpdateExpression: `SET #owner = :owner, #until = :until${extra.set}`,
          ConditionExpression: this.precondition === undefined ? free : `${this.precondition} AND ${free}`,
          ExpressionAttributeNames: { ...this.names, ...extra.names },
          ExpressionAttributeValues: { ':owner': owner, ':until': until, ':now': now, ...extra.values },
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD'
        })
      )
    )
    if (outcome.held) {
      const before = (outcome.result.Attributes ?? {}) as Item
      const previous = before[ownerAttribute] as string | undefined
      // Another owner's lease that was still set (not released): it expired, and this acquisition took it over.
      const tookOver = previous !== undefined && previous !== owner && Number(before[untilAttribute] ?? 0) > 0
      return {
        acquired: true,
        tookOverFrom: tookOver ? previous : undefined,
        item: { ...key, ...before, [ownerAttribute]: owner, [untilAttribute]: until }
      }
    }
    const current = outcome.current ?? (await this.read(key))
    return { acquired: false, holder: String(current?.[ownerAttribute] ?? '') }
  }

  /** Extends `owner`'s lease to `leaseMs` from now; false when the lease is no longer `owner`'s. */
  async renew(key: LeaseKey, owner: string, leaseMs: number): Promise<boolean> {
    const until = Date.now() + leaseMs
    const extra = this.withExpiry(until)
    const owned = this.owned(key, owner)
    return await conditionHolds(
      this.options.db.send(
        new UpdateCommand({
          ...owned,
          UpdateExpression: `SET #until = :until${extra.set}`,
          ExpressionAttributeNames: { ...this.names, ...extra.names },
          ExpressionAttributeValues: { ...owned.ExpressionAttributeValues, ':until': until, ...extra.values }
        })
      )
    )
  }

  /** A write's key and its condition: the lease is still `owner`'s. */
  protected owned(key: LeaseKey, owner: string) {
    return {
      TableName: this.options.table,
      Key: key,
      ConditionExpression: '#owner = :owner',
      ExpressionAttributeNames: { '#owner': this.options.ownerAttribute },
      ExpressionAttributeValues: { ':owner': owner } as Record<string, unknown>
    }
  }

  /** The item that holds the lease, as it is now. */
  async read(key: LeaseKey): Promise<Item | undefined> {
    const { Item } = await this.options.db.send(
      new GetCommand({ TableName: this.options.table, Key: key, ConsistentRead: true })
    )
    return Item
  }
}

/** A lease that is an item of its own: made by its first acquisition, deleted on release, expiring by TTL. */
export class ItemLease extends Lease {
  protected readonly precondition = undefined

  constructor(
    options: LeaseOptions,
    /** How long after the lease's expiry its item expires (TTL). */
    private readonly ttlAfterMs: number
  ) {
    super(options)
  }

  protected withExpiry(until: number): Extra {
    return {
      set: ', #ttl = :ttl',
      names: { '#ttl': 'ttl' },
      values: { ':ttl': ttlFromMillis(until + this.ttlAfterMs) }
    }
  }

  async release(key: LeaseKey, owner: string): Promise<void> {
    await conditionHolds(this.options.db.send(new DeleteCommand(this.owned(key, owner))))
  }
}

/** A lease held on an item that must exist already and stays: released by letting it lapse. */
export class AttributeLease extends Lease {
  protected readonly precondition = 'attribute_exists(pk)'

  protected withExpiry(): Extra {
    return { set: '', names: {}, values: {} }
  }

  async release(key: LeaseKey, owner: string): Promise<void> {
    const owned = this.owned(key, owner)
    const lapse = { ...owned, ExpressionAttributeNames: this.names, UpdateExpression: 'SET #until = :zero' }
    await conditionHolds(
      this.options.db.send(
        new UpdateCommand({ ...lapse, ExpressionAttributeValues: { ...owned.ExpressionAttributeValues, ':zero': 0 } })
      )
    )
  }
}
