/**
 * How a user and the claim on its email are stored (one table, partition key `pk` only):
 *   USER#<userId>   the user: userId, email (trimmed, as sent), emailKey (trimmed,
 *                   lower-cased), name, department?, createdAt, updatedAt,
 *                   expiresAt? with ttl (epoch seconds) beside it, version,
 *                   claimVersion (the version whose write took its email), and
 *                   the GSI keys: gsi1pk `USERS` / gsi2pk `DEPT#<department>`, both
 *                   with sort key `<createdAt, zero-padded>#<userId>`.
 *   EMAIL#<emailKey> the claim on an email: userId, version (the version of the
 *                   user write the claim is for), claimedAt (epoch ms).
 */
import { TTL_ATTRIBUTE, ttlFromMillis } from '../../core/expiry.ts'
import { createdOrderKey } from '../dynamo.ts'

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

export interface UserItem {
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

export interface ClaimItem {
  pk: string
  userId: string
  version: number
  claimedAt: number
}

export const CREATED_AT_INDEX = 'createdAt-index'
export const DEPARTMENT_INDEX = 'department-createdAt-index'
export const ALL_USERS = 'USERS'

export const userKey = (userId: string): string => `USER#${userId}`
export const claimKey = (emailKey: string): string => `EMAIL#${emailKey}`
export const departmentKey = (department: string): string => `DEPT#${department}`

/** The form emails are compared in: trimmed and lower-cased. */
export const normalizeEmail = (email: string): string => email.trim().toLowerCase()

/** Expiry is checked on every read: AWS deletes items past their TTL days late and emulators never do. */
export const isLive = (item: Pick<UserItem, 'expiresAt'>, now: number = Date.now()): boolean =>
  item.expiresAt === undefined || item.expiresAt > now

/** The condition of a write to a user that must exist and be live (`:nowMs` is now). */
export const LIVE_CONDITION = 'attribute_exists(pk) AND (attribute_not_exists(expiresAt) OR expiresAt > :nowMs)'

export function toItem(user: StoredUser, claimVersion: number): UserItem {
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

export function toUser(item: UserItem): StoredUser {
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
