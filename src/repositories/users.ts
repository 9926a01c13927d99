/**
 * User records with unique emails (/users).
 *
 * Items, one table, partition key `pk` only:
 *   USER#<userId>   the user: userId, email (trimmed, as sent), emailKey (trimmed,
 *                   lower-cased), name, department?, createdAt, updatedAt,
 *                   expiresAt? with ttl (epoch seconds) beside it, version,
 *                   claimVersion (the version whose write took its email), and
 *                   the GSI keys: gsi1pk `USERS` / gsi2pk `DEPT#<department>`, both
 *                   with sort key `<createdAt, zero-padded>#<userId>`.
 *   EMAIL#<emailKey> the claim on an email: userId, version (the version of the
 *                   user write the claim is for), claimedAt (epoch ms).
 *
 * Uniqueness rests on the claim items, written with single-item conditional
 * writes and read with ConsistentRead; never on an index, which is eventually
 * consistent. A user *holds* an email when it is live and its emailKey is that
 * email; a claim whose user does not hold it is stale.
 *
 * Create: 1. claim the email (a put if no claim exists); 2. put the user.
 * Email change (PATCH): read the user (consistent; If-Match checked here), claim
 *   the new email for version + 1, write the user on condition that it is still
 *   at the version read and live, then release the old claim on condition that
 *   it is still exactly the one the user took.
 * Delete: delete the user (on condition it is live), then release its claim.
 *
 * Claiming an email that has a claim: 409 while the claim's user holds it. A
 * stale claim may be taken over, with a put conditional on the claim's exact
 * content, when its user is expired, or when it is older than the grace period
 * (its user missing or holding another email: a writer died between two
 * writes, or released nothing). A younger stale claim may be a write in flight,
 * so it is 409 too. A writer never writes its user later than half the grace
 * period after claiming, so a claim is never taken over from a writer that can
 * still land.
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
import { type VersionCondition, versionAllowed } from '../etag.ts'
import {
  ConflictError,
  ContentionError,
  DomainError,
  InvalidInputError,
  NotFoundError,
  PreconditionFailedError,
  UnavailableError
} from '../errors.ts'
import { LIVE_FILTER, LIVE_FILTER_NAMES, nowSeconds, TTL_ATTRIBUTE, ttlFromMillis } from '../expiry.ts'
import { decodeCursor, encodeCursor, type CursorKey } from '../pagination.ts'
import type { CreateUserBody, UpdateUserBody } from '../schemas/users.ts'
import { conditional, conditionHolds, createdOrderKey, documentClient } from './dynamo.ts'
import { backoff, DYNAMODB_BACKOFF } from '../retry.ts'

export interface User {
  userId: string
  email: string
  name: string
  department: string | null
  createdAt: number
  updatedAt: number
  expiresAt: number | null
}

/** A user with its version, which the ETag carries. */
export interface StoredUser extends User {
  version: number
}

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

interface UserItem {
  pk: string
  userId: string
  email: string
  emailKey: string
  name: string
  department?: string
  createdAt: number
  updatedAt: number
  expiresAt?: number
  ttl?: number
  version: number
  claimVersion: number
  gsi1pk: string
  gsi1sk: string
  gsi2pk?: string
  gsi2sk?: string
}

interface ClaimItem {
  pk: string
  userId: string
  version: number
  claimedAt: number
}

export const CREATED_AT_INDEX = 'createdAt-index'
export const DEPARTMENT_INDEX = 'department-createdAt-index'
/** Longer than any request can keep a write in flight (the API gives up after 30 s). */
export const CLAIM_GRACE_MS = 120_000
const ALL_USERS = 'USERS'
const MAX_ATTEMPTS = 20

const userKey = (userId: string): string => `USER#${userId}`
const claimKey = (emailKey: string): string => `EMAIL#${emailKey}`
const departmentKey = (department: string): string => `DEPT#${department}`

/** The form emails are compared in: trimmed and lower-cased. */
export const normalizeEmail = (email: string): string => email.trim().toLowerCase()

const isLive = (item: Pick<UserItem, 'expiresAt'>, now: number = Date.now()): boolean =>
  item.expiresAt === undefined || item.expiresAt > now

const LIVE_CONDITION = 'attribute_exists(pk) AND (attribute_not_exists(expiresAt) OR expiresAt > :nowMs)'

const emailTaken = (email: string): ConflictError =>
  new ConflictError('EMAIL_TAKEN', `Another user has the email ${email}`)
/** Written to a user that does not exist (or expired); reads answer undefined instead. */
export const userNotFound = (userId: string): NotFoundError =>
  new NotFoundError('USER_NOT_FOUND', `User ${userId} not found`)
const notInFuture = (): InvalidInputError =>
  new InvalidInputError('EXPIRES_AT_NOT_IN_FUTURE', 'expiresAt must be in the future')
/** Thrown inside a loop: what was read has changed, read again. */
class Stale extends Error {}

export interface UsersRepositoryOptions {
  dynamodb: DynamoDBClient
  table: string
  /** How old a stale email claim must be before another user may take it over (tests lower it). */
  claimGraceMs?: number
}

export class UsersRepository {
  private readonly db: DynamoDBDocumentClient
  private readonly table: string
  private readonly claimGraceMs: number

  constructor(options: UsersRepositoryOptions) {
    this.db = documentClient(options.dynamodb)
    this.table = options.table
    this.claimGraceMs = options.claimGraceMs ?? CLAIM_GRACE_MS
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
    const claimedAt = await this.claim(item.emailKey, userId, 1)
    try {
      this.checkClaimFresh(claimedAt)
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)'
        })
      )
    } catch (err) {
      await this.releaseUnlessHeld(item.emailKey, userId, 1)
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
    const claim = await this.readClaim(emailKey)
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
        if (emailChanges) claimedAt = await this.claim(next.emailKey, userId, version)
        if (claimedAt !== undefined) this.checkClaimFresh(claimedAt)
        landed = await conditionHolds(
          this.db.send(
            new PutCommand({
              TableName: this.table,
              Item: next,
              ConditionExpression: `${LIVE_CONDITION} AND version = :version`,
              ExpressionAttributeValues: { ':version': current.version, ':nowMs': now }
            })
          )
        )
      } catch (err) {
        // Stale: read again. A refusal (email taken, too slow) gives back what was claimed. After any other failure the
        // claim stays: another request of this user may still land with it; stale, it is free after the grace period.
        if (!(err instanceof Stale)) {
          if (claimedAt !== undefined && err instanceof DomainError)
            await this.releaseUnlessHeld(next.emailKey, userId, version)
          throw err
        }
      }
      if (!landed) {
        // Another write came first: give back the claim, read again (and with If-Match, answer 412 if it no longer holds).
        if (claimedAt !== undefined) await this.releaseUnlessHeld(next.emailKey, userId, version)
        await backoff(attempt + 1, { ...DYNAMODB_BACKOFF, capMs: 50 })
        continue
      }
      if (emailChanges) await this.release(current.emailKey, userId, current.claimVersion)
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
          TableName: this.table,
          Key: { pk: userKey(userId) },
          ConditionExpression: LIVE_CONDITION,
          ExpressionAttributeValues: { ':nowMs': Date.now() },
          ReturnValues: 'ALL_OLD'
        })
      )
    )
    if (!deleted.held) throw userNotFound(userId)
    const old = deleted.result.Attributes as UserItem
    await this.release(old.emailKey, userId, old.claimVersion)
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
          TableName: this.table,
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

  /**
   * Makes `userId` (about to be written at `version`) the claimant of an email.
   * Returns when the claim was made, 409 when a live user holds the email or a
   * stale claim is still within its grace period.
   */
  private async claim(emailKey: string, userId: string, version: number): Promise<number> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const claimedAt = Date.now()
      const fresh: ClaimItem = { pk: claimKey(emailKey), userId, version, claimedAt }
      const claimed = await conditional(
        this.db.send(
          new PutCommand({
            TableName: this.table,
            Item: fresh,
            ConditionExpression: 'attribute_not_exists(pk)',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD'
          })
        )
      )
      if (claimed.held) return claimedAt
      const existing = (claimed.current as ClaimItem | undefined) ?? (await this.readClaim(emailKey))
      if (existing === undefined) continue // released meanwhile
      if (existing.userId === userId) {
        // Another request for this user wants this email too: same version, same claim; a newer one means we read stale.
        if (existing.version === version) return existing.claimedAt
        if (existing.version > version) throw new Stale()
      } else {
        const holder = await this.readUser(existing.userId)
        const now = Date.now()
        if (holder !== undefined && isLive(holder, now) && holder.emailKey === emailKey) throw emailTaken(emailKey)
        const expired = holder !== undefined && !isLive(holder, now)
        if (!expired && now - existing.claimedAt < this.claimGraceMs) throw emailTaken(emailKey)
      }
      // Stale: take it over, if it is still exactly what was read.
      const takenOver = await conditionHolds(
        this.db.send(
          new PutCommand({
            TableName: this.table,
            Item: fresh,
            ConditionExpression: 'userId = :userId AND version = :version AND claimedAt = :claimedAt',
            ExpressionAttributeValues: {
              ':userId': existing.userId,
              ':version': existing.version,
              ':claimedAt': existing.claimedAt
            }
          })
        )
      )
      if (takenOver) return claimedAt
    }
    throw new ContentionError('WRITE_CONTENTION', `The email ${emailKey} is contended; retry`)
  }

  /** A writer that stalled after claiming must not write: its claim may be taken over soon. */
  private checkClaimFresh(claimedAt: number): void {
    if (Date.now() - claimedAt > this.claimGraceMs / 2) {
      throw new UnavailableError(
        'WRITE_TOO_SLOW',
        'Storage was too slow to finish this write; nothing was changed, retry'
      )
    }
  }

  /** Deletes the claim if it is still the one `userId` took for `version`. Best effort: a leftover claim is stale. */
  private async release(emailKey: string, userId: string, version: number): Promise<void> {
    try {
      await this.db.send(
        new DeleteCommand({
          TableName: this.table,
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
  private async releaseUnlessHeld(emailKey: string, userId: string, version: number): Promise<void> {
    try {
      const user = await this.readUser(userId)
      if (user !== undefined && user.emailKey === emailKey && user.claimVersion === version) return
    } catch {
      return
    }
    await this.release(emailKey, userId, version)
  }

  private async readUser(userId: string): Promise<UserItem | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { pk: userKey(userId) }, ConsistentRead: true })
    )
    return Item as UserItem | undefined
  }

  private async readClaim(emailKey: string): Promise<ClaimItem | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { pk: claimKey(emailKey) }, ConsistentRead: true })
    )
    return Item as ClaimItem | undefined
  }
}

function toItem(user: StoredUser, claimVersion: number): UserItem {
  const sk = createdOrderKey(user.createdAt, user.userId)
  return {
    pk: userKey(user.userId),
    userId: user.userId,
    email: user.email,
    emailKey: normalizeEmail(user.email),
    name: user.name,
    department: user.department ?? undefined,
    createdAt: user.createdAt,
    updatedAt: user.updatedAt,
    expiresAt: user.expiresAt ?? undefined,
    [TTL_ATTRIBUTE]: user.expiresAt === null ? undefined : ttlFromMillis(user.expiresAt),
    version: user.version,
    claimVersion,
    gsi1pk: ALL_USERS,
    gsi1sk: sk,
    gsi2pk: user.department === null ? undefined : departmentKey(user.department),
    gsi2sk: user.department === null ? undefined : sk
  }
}

function toUser(item: UserItem): StoredUser {
  return {
    userId: item.userId,
    email: item.email,
    name: item.name,
    department: item.department ?? null,
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
    expiresAt: item.expiresAt ?? null,
    version: item.version
  }
}
