/**
 * User records with unique emails (/users). How they are stored:
 * `items.ts`; how emails stay unique: `email-claims.ts`.
 *
 * Create: 1. claim the email (a put if no claim exists); 2. put the user.
 * Email change (PATCH): read the user (consistent; If-Match checked here), claim
 *   the new email for version + 1, write the user on condition that it is still
 *   at the version read and live, then release the old claim on condition that
 *   it is still exactly the one the user took.
 * Delete: delete the user (on condition it is live), then release its claim.
 *
 * Failed writes release what they claimed, unless the user holds it by then
 * (another request for the same user took the same email with the same claim).
 * A claim left behind by a dead writer costs its email the grace period, never
 * more.
 *
 * Expiry: AWS deletes items past their TTL days late and emulators never do,
 * so every read checks `expiresAt` itself; lists also filter on `ttl`.
 */
import { randomUUID } from 'node:crypto'
import type { Static } from '@sinclair/typebox'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { type VersionCondition, versionAllowed } from '../../http/etag.ts'
import {
  ContentionError,
  DomainError,
  InvalidInputError,
  NotFoundError,
  PreconditionFailedError
} from '../../core/errors.ts'
import { LIVE_FILTER, LIVE_FILTER_NAMES, nowSeconds } from '../../core/expiry.ts'
import { decodeCursor, encodeCursor, type CursorKey } from '../../http/pagination.ts'
import { conditional, conditionHolds, documentClient } from '../dynamo.ts'
import { backoff, DYNAMODB_BACKOFF } from '../../core/retry.ts'
import type { CreateUserBody, UpdateUserBody } from '../../schemas/users.ts'
import { CLAIM_GRACE_MS, EmailClaims, StaleRead } from './email-claims.ts'
import {
  ALL_USERS,
  CREATED_AT_INDEX,
  DEPARTMENT_INDEX,
  departmentKey,
  isLive,
  LIVE_CONDITION,
  normalizeEmail,
  toItem,
  toUser,
  userKey,
  type StoredUser,
  type UserItem
} from './items.ts'

/** The user as the routes see it; its items are defined in items.ts. */
export type { StoredUser, User } from './items.ts'

export type CreateUserInput = Static<typeof CreateUserBody>

/** `null` clears an optional field; an absent field is left as it is. */
export type UpdateUserInput = Static<typeof UpdateUserBody>

export interface ListUsersOptions {
  limit: number
  order: 'asc' | 'desc'
  department?: string
  cursor?: string
}

export interface UserPage {
  users: StoredUser[]
  cursor: string | null
}

const MAX_ATTEMPTS = 20

/** Written to a user that does not exist (or expired); reads answer undefined instead. */
export const userNotFound = (userId: string): NotFoundError =>
  new NotFoundError('USER_NOT_FOUND', `User ${userId} not found`)
const notInFuture = (): InvalidInputError =>
  new InvalidInputError('EXPIRES_AT_NOT_IN_FUTURE', 'expiresAt must be in the future')

export interface UsersRepositoryOptions {
  dynamodb: DynamoDBClient
  table: string
  /** How old a stale email claim must be before another user may take it over (tests lower it). */
  claimGraceMs?: number
}

export class UsersRepository {
  private readonly db: DynamoDBDocumentClient
  private readonly claims: EmailClaims

  constructor(private readonly options: UsersRepositoryOptions) {
    this.db = documentClient(options.dynamodb)
    this.claims = new EmailClaims({
      db: this.db,
      table: options.table,
      claimGraceMs: options.claimGraceMs ?? CLAIM_GRACE_MS,
      readUser: userId => this.readUser(userId)
    })
  }

  async create(input: CreateUserInput): Promise<StoredUser> {
    const now = Date.now()
    if (input.expiresAt !== undefined && input.expiresAt <= now) throw notInFuture()
    const userId = randomUUID()
    const item = toItem(
      {
        userId,
        email: input.email.trim(),
        name: input.name,
        department: input.department ?? null,
        createdAt: now,
        updatedAt: now,
        expiresAt: input.expiresAt ?? null,
        version: 1
      },
      1
    )
    const claimedAt = await this.claims.claim(item.emailKey, userId, 1)
    try {
      this.claims.checkFresh(claimedAt)
      await this.db.send(
        new PutCommand({
          TableName: this.options.table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)'
        })
      )
    } catch (err) {
      await this.claims.releaseUnlessHeld(item.emailKey, userId, 1)
      throw err
    }
    return toUser(item)
  }

  /** The live user, or undefined. */
  async get(userId: string): Promise<StoredUser | undefined> {
    const item = await this.readUser(userId)
    return item === undefined || !isLive(item) ? undefined : toUser(item)
  }

  /** The live user holding this email (compared trimmed, case-insensitively), or undefined. */
  async findByEmail(email: string): Promise<StoredUser | undefined> {
    const emailKey = normalizeEmail(email)
    const claim = await this.claims.read(emailKey)
    if (claim === undefined) return undefined
    const item = await this.readUser(claim.userId)
    return item !== undefined && isLive(item) && item.emailKey === emailKey ? toUser(item) : undefined
  }

  async update(userId: string, changes: UpdateUserInput, ifMatch?: VersionCondition): Promise<StoredUser> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = Date.now()
      const current = await this.readUser(userId)
      if (current === undefined || !isLive(current, now)) throw userNotFound(userId)
      if (!versionAllowed(ifMatch, current.version)) {
        throw new PreconditionFailedError(
          'VERSION_MISMATCH',
          `User ${userId} is at version ${current.version}, not the version in If-Match`
        )
      }
      if (typeof changes.expiresAt === 'number' && changes.expiresAt <= now) throw notInFuture()

      const version = current.version + 1
      const user = toUser(current)
      const email = changes.email === undefined ? user.email : changes.email.trim()
      const emailChanges = normalizeEmail(email) !== current.emailKey
      const next = toItem(
        {
          ...user,
          email,
          name: changes.name ?? user.name,
          department: changes.department === undefined ? user.department : changes.department,
          expiresAt: changes.expiresAt === undefined ? user.expiresAt : changes.expiresAt,
          updatedAt: Math.max(now, user.updatedAt),
          version
        },
        emailChanges ? version : current.claimVersion
      )

      let claimedAt: number | undefined
      let landed = false
      try {
        if (emailChanges) claimedAt = await this.claims.claim(next.emailKey, userId, version)
        if (claimedAt !== undefined) this.claims.checkFresh(claimedAt)
        landed = await conditionHolds(
          this.db.send(
            new PutCommand({
              TableName: this.options.table,
              Item: next,
              ConditionExpression: `${LIVE_CONDITION} AND version = :version`,
              ExpressionAttributeValues: { ':version': current.version, ':nowMs': now }
            })
          )
        )
      } catch (err) {
        // Stale: read again. A refusal (email taken, too slow) gives back what was claimed. After any other failure the
        // claim stays: another request of this user may still land with it; stale, it is free after the grace period.
        if (!(err instanceof StaleRead)) {
          if (claimedAt !== undefined && err instanceof DomainError)
            await this.claims.releaseUnlessHeld(next.emailKey, userId, version)
          throw err
        }
      }
      if (!landed) {
        // Another write came first: give back the claim, read again (and with If-Match, answer 412 if it no longer holds).
        if (claimedAt !== undefined) await this.claims.releaseUnlessHeld(next.emailKey, userId, version)
        await backoff(attempt + 1, { ...DYNAMODB_BACKOFF, capMs: 50 })
        continue
      }
      if (emailChanges) await this.claims.release(current.emailKey, userId, current.claimVersion)
      return toUser(next)
    }
    throw new ContentionError(
      'WRITE_CONTENTION',
      `User ${userId} is being changed too often to take this change; retry`
    )
  }

  async delete(userId: string): Promise<void> {
    const deleted = await conditional(
      this.db.send(
        new DeleteCommand({
          TableName: this.options.table,
          Key: { pk: userKey(userId) },
          ConditionExpression: LIVE_CONDITION,
          ExpressionAttributeValues: { ':nowMs': Date.now() },
          ReturnValues: 'ALL_OLD'
        })
      )
    )
    if (!deleted.held) throw userNotFound(userId)
    const old = deleted.result.Attributes as UserItem
    await this.claims.release(old.emailKey, userId, old.claimVersion)
  }

  /**
   * Live users in creation order, all or one department's, from a GSI (no
   * Scan). Expired users are filtered out by the query and checked again here.
   */
  async list(options: ListUsersOptions): Promise<UserPage> {
    const byDepartment = options.department !== undefined
    const [index, pkName, skName, pkValue] = byDepartment
      ? [DEPARTMENT_INDEX, 'gsi2pk', 'gsi2sk', departmentKey(options.department!)]
      : [CREATED_AT_INDEX, 'gsi1pk', 'gsi1sk', ALL_USERS]
    let startKey: CursorKey | undefined = decodeCursor(options.cursor, {
      pk: { pattern: /^USER#/ },
      [pkName]: { equals: pkValue },
      [skName]: 'string'
    })
    const users: StoredUser[] = []
    let more = true
    while (users.length < options.limit && more) {
      const now = Date.now()
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.options.table,
          IndexName: index,
          KeyConditionExpression: '#pk = :pk',
          FilterExpression: LIVE_FILTER,
          ExpressionAttributeNames: { '#pk': pkName, ...LIVE_FILTER_NAMES },
          ExpressionAttributeValues: { ':pk': pkValue, ':now': nowSeconds(now) },
          ScanIndexForward: options.order === 'asc',
          Limit: options.limit - users.length,
          ExclusiveStartKey: startKey
        })
      )
      for (const item of (page.Items ?? []) as UserItem[]) {
        if (isLive(item, now)) users.push(toUser(item))
      }
      startKey = page.LastEvaluatedKey as CursorKey | undefined
      more = startKey !== undefined
    }
    // Each query asks for no more than the page still needs, so the last key evaluated is where the next page starts.
    return { users, cursor: startKey === undefined ? null : encodeCursor(startKey) }
  }

  private async readUser(userId: string): Promise<UserItem | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.options.table, Key: { pk: userKey(userId) }, ConsistentRead: true })
    )
    return Item as UserItem | undefined
  }
}
