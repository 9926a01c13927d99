import { Type } from '@sinclair/typebox'
import { InvalidInputError } from '../core/errors.ts'

/**
 * List cursors are opaque to clients: base64url of JSON. For a Query they hold
 * the LastEvaluatedKey; a repository may put anything it can check back in.
 */
export const Cursor = Type.String({
  minLength: 1,
  maxLength: 2048,
  pattern: '^[A-Za-z0-9_-]+$',
  description: 'Opaque; the `cursor` of the previous page'
})

/** A `limit` query parameter: `fallback` when absent, 1 to `max`. */
export const Limit = (fallback: number, max: number) =>
  Type.Integer({
    minimum: 1,
    maximum: max,
    default: fallback,
    description: `Items per page, 1 to ${max} (default ${fallback})`
  })

export type KeyValue = string | number
export type CursorKey = Record<string, KeyValue>

/**
 * What one attribute of a cursor must be: any non-empty string, a safe
 * non-negative integer, exactly one string, or a string matching a pattern.
 */
export type CursorField = 'string' | 'number' | { equals: string } | { pattern: RegExp }
export type CursorShape = Record<string, CursorField>

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url')
}

const invalidCursor = (): InvalidInputError =>
  new InvalidInputError('INVALID_CURSOR', 'cursor is not one this list handed out')

function fits(value: unknown, field: CursorField): boolean {
  if (field === 'number') return Number.isSafeInteger(value) && (value as number) >= 0
  if (typeof value !== 'string' || value.length === 0 || value.length > 1024 || !value.isWellFormed()) return false
  if (field === 'string') return true
  return 'equals' in field ? value === field.equals : field.pattern.test(value)
}

/**
 * The key inside a cursor, checked to hold exactly the attributes of `shape`,
 * each of its kind: a forged cursor is a 400, never an engine error.
 */
export function decodeCursor(cursor: string | undefined, shape: CursorShape): CursorKey | undefined {
  if (cursor === undefined) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw invalidCursor()
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidCursor()
  const entries = Object.entries(parsed)
  if (entries.length !== Object.keys(shape).length) throw invalidCursor()
  for (const [name, value] of entries) {
    const field = Object.hasOwn(shape, name) ? shape[name] : undefined
    if (field === undefined || !fits(value, field)) throw invalidCursor()
  }
  return parsed as CursorKey
}
