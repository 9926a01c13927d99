/**
 * The claim items that keep emails unique (/users): written with single-item
 * conditional writes and read with ConsistentRead; never an index, which is
 * eventually consistent. A user *holds* an email when it is live and its
 * emailKey is that email; a claim whose user does not hold it is stale.
 *
 * Claiming an email that has a claim: 409 while the claim's user holds it. A
 * stale claim may be taken over, with a put conditional on the claim's exact
 * content, when its user is expired, or when it is older than the grace period
 * (its user missing or holding another email: a writer died between two
 * writes, or released nothing). A younger stale claim may be a write in flight,
 * so it is 409 too. A writer never writes its user later than half the grace
 * period after claiming, so a claim is never taken over from a writer that can
 * still land.
 */
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  type DynamoDBDocumentClient,
  type PutCommandInput
} from '@aws-sdk/lib-dynamodb'
import { ConflictError, ContentionError, UnavailableError } from '../../core/errors.ts'
import { conditional, type Conditional } from '../dynamo.ts'
import { claimKey, isLive, type ClaimItem, type UserItem } from './items.ts'

/** Longer than any request can keep a write in flight (the API gives up after 30 s). */
export const CLAIM_GRACE_MS = 120_000
const MAX_ATTEMPTS = 20

/** Thrown inside a write loop: what was read has changed, read again. */
export class StaleRead extends Error {}

const emailTaken = (email: string): ConflictError =>
  new ConflictError('EMAIL_TAKEN', `Another user has the email ${email}`)

export interface EmailClaimsOptions {
  db: DynamoDBDocumentClient
  table: string
  claimGraceMs: number
  /** The user item as stored (consistent read), to tell whether a claim's user holds its email. */
  readUser: (userId: string) => Promise<UserItem | undefined>
}

export class EmailClaims {
  constructor(private readonly options: EmailClaimsOptions) {}

  /**
   * Makes `userId` (about to be written at `version`) the claimant of an email.
   * Returns when the claim was made, 409 when a live user holds the email or a
   * stale claim is still within its grace period.
   */
  async claim(emailKey: string, userId: string, version: number): Promise<number> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const claimedAt = Date.now()
      const fresh: ClaimItem = { pk: claimKey(emailKey), userId, version, claimedAt }
      const claimed = await this.put(fresh, {
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD'
      })
      if (claimed.held) return claimedAt
      const existing = (claimed.current as ClaimItem | undefined) ?? (await this.read(emailKey))
      if (existing === undefined) continue // released meanwhile
      if (existing.userId === userId) {
        // Another request for this user wants this email too: same version, same claim; a newer one means we read stale.
        if (existing.version === version) return existing.claimedAt
        if (existing.version > version) throw new StaleRead()
      } else {
        const holder = await this.options.readUser(existing.userId)
        const now = Date.now()
        if (holder !== undefined && isLive(holder, now) && holder.emailKey === emailKey) throw emailTaken(emailKey)
        const expired = holder !== undefined && !isLive(holder, now)
        if (!expired && now - existing.claimedAt < this.options.claimGraceMs) throw emailTaken(emailKey)
      }
      // Stale: take it over, if it is still exactly what was read.
      const takenOver = await this.put(fresh, {
        ConditionExpression: 'userId = :userId AND version = :version AND claimedAt = :claimedAt',
        ExpressionAttributeValues: {
          ':userId': existing.userId,
          ':version': existing.version,
          ':claimedAt': existing.claimedAt
        }
      })
      if (takenOver.held) return claimedAt
    }
    throw new ContentionError('WRITE_CONTENTION', `The email ${emailKey} is contended; retry`)
  }

  /** Writes `claim` if `condition` holds; a failed condition is an answer, with the claim there when asked for. */
  private async put(
    claim: ClaimItem,
    condition: Pick<
      PutCommandInput,
      'ConditionExpression' | 'ExpressionAttributeValues' | 'ReturnValuesOnConditionCheckFailure'
    >
  ): Promise<Conditional<unknown>> {
    return await conditional(
      this.options.db.send(new PutCommand({ TableName: this.options.table, Item: claim, ...condition }))
    )
  }

  /** A writer that stalled after claiming must not write: its claim may be taken over soon. */
  checkFresh(claimedAt: number): void {
    if (Date.now() - claimedAt > this.options.claimGraceMs / 2) {
      throw new UnavailableError(
        'WRITE_TOO_SLOW',
        'Storage was too slow to finish this write; nothing was changed, retry'
      )
    }
  }

  /** Deletes the claim if it is still the one `userId` took for `version`. Best effort: a leftover claim is stale. */
  async release(emailKey: string, userId: string, version: number): Promise<void> {
    try {
      await this.options.db.send(
        new DeleteCommand({
          TableName: this.options.table,
          Key: { pk: claimKey(emailKey) },
          ConditionExpression: 'userId = :userId AND version = :version',
          ExpressionAttributeValues: { ':userId': userId, ':version': version }
        })
      )
    } catch {
      // Taken over, reclaimed, or the engine failed: either way the claim is someone's or stale.
    }
  }

  /** After a failed write: release the claim unless another request of the same user landed with it. */
  async releaseUnlessHeld(emailKey: string, userId: string, version: number): Promise<void> {
    try {
      const user = await this.options.readUser(userId)
      if (user !== undefined && user.emailKey === emailKey && user.claimVersion === version) return
    } catch {
      return
    }
    await this.release(emailKey, userId, version)
  }

  async read(emailKey: string): Promise<ClaimItem | undefined> {
    const { Item } = await this.options.db.send(
      new GetCommand({ TableName: this.options.table, Key: { pk: claimKey(emailKey) }, ConsistentRead: true })
    )
    return Item as ClaimItem | undefined
  }
}
