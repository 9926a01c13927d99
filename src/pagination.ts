import { Type } from '@sinclair/typebox'
import { badRequest, type AppError } from './errors.ts'

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
  Type.Integer({ minimum: 1, maximum: max, default: fallback, description: `Items per page, 1 to ${max} (default ${fallback})` })

export type KeyValue = string | number
export type CursorKey = Record<string, KeyValue>

export function encodeCursor (key: CursorKey): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url')
}

const invalidCursor = (): AppError => badRequest('INVALID_CURSOR', 'cursor is not one this list handed out')

/**
 * The key inside a cursor, checked to hold exactly the attributes `names` with
 * string or number values: a forged cursor is a 400, never an engine error.
 */
export function decodeCursor (cursor: string | undefined, names: readonly string[]): CursorKey | undefined {
  if (cursor === undefined) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw invalidCursor()
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidCursor()
  const entries = Object.entries(parsed)
  if (entries.length !== names.length) throw invalidCursor()
  for (const [name, value] of entries) {
    if (!names.includes(name)) throw invalidCursor()
    if (typeof value === 'string' ? value.length === 0 || value.length > 1024 : !Number.isFinite(value)) throw invalidCursor()
  }
  return parsed as CursorKey
}
