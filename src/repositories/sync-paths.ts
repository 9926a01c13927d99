/**
 * Where a vault file lands in S3: `<prefix>/<vaultId>/<path>`. The prefix and
 * the vault id are one segment each (no `/`, not `.` or `..`), so a key's
 * first two segments name its destination and vault and no two destinations
 * or vaults can share a key: a prefix of `vaults/<another vault>` would have
 * written into that vault's files. The paths come from the service, so they
 * are input too: one that could leave the vault's prefix or confuse a tool
 * reading the bucket is refused, never written.
 */
export class UnsafePathError extends Error {
  override name = 'UnsafePathError'
}

/** S3's longest key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

/** The reason `path` may not be written, or undefined when it may. */
export function unsafeReason(path: string): string | undefined {
  if (path === '') return 'it is empty'
  if (!path.isWellFormed()) return 'it is not well-formed Unicode'
  if (CONTROL.test(path)) return 'it holds control characters'
  if (path.startsWith('/')) return 'it is absolute'
  if (path.includes('\\')) return 'it holds a backslash'
  if (path.split('/').some(segment => segment === '' || segment === '.' || segment === '..'))
    return 'it has an empty, . or .. segment'
  return undefined
}

/** A destination prefix or vault id: one segment of letters, digits, `_ . -`, never `.` or `..`. */
const SEGMENT = /^(?!\.{1,2}$)[A-Za-z0-9_.-]{1,128}$/

/** True when `segment` may be a key's destination prefix or vault id. */
export const isKeySegment = (segment: string): boolean => SEGMENT.test(segment)

/** Where a vault's files are at a destination: `<prefix>/<vaultId>/`, every key of the vault starting with it. */
export function vaultKeyPrefix(prefix: string, vaultId: string): string {
  if (!isKeySegment(prefix) || !isKeySegment(vaultId))
    throw new UnsafePathError('refused: the destination prefix and the vault id must be one segment each')
  return `${prefix}/${vaultId}/`
}

/** The destination prefix and vault id a vault's key prefix names; undefined for anything else. */
export function parseVaultKeyPrefix(vaultPrefix: string): { prefix: string; vaultId: string } | undefined {
  const [prefix, vaultId, rest] = vaultPrefix.split('/')
  if (prefix === undefined || vaultId === undefined || rest !== '' || !isKeySegment(prefix) || !isKeySegment(vaultId))
    return undefined
  return { prefix, vaultId }
}

/**
 * The vault path a key under `vaultPrefix` holds: the key with the prefix cut off, as `objectKey` made it.
 * Undefined for a key a sync could not have written (put there by hand: an empty segment, a `..`).
 */
export function pathOfKey(vaultPrefix: string, key: string): string | undefined {
  if (!key.startsWith(vaultPrefix)) return undefined
  const path = key.slice(vaultPrefix.length)
  return unsafeReason(path) === undefined ? path : undefined
}

export function objectKey(prefix: string, vaultId: string, path: string): string {
  const vaultPrefix = vaultKeyPrefix(prefix, vaultId)
  const reason = unsafeReason(path)
  if (reason !== undefined) throw new UnsafePathError(`refused: ${reason}`)
  const key = `${vaultPrefix}${path}`
  if (Buffer.byteLength(key) > MAX_KEY_BYTES)
    throw new UnsafePathError(`refused: its key is over ${MAX_KEY_BYTES} bytes`)
  return key
}

const TYPES: Record<string, string> = {
  md: 'text/markdown; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  json: 'application/json',
  canvas: 'application/json',
  css: 'text/css',
  csv: 'text/csv',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  pdf: 'application/pdf',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  mp4: 'video/mp4',
  webm: 'video/webm'
}

export function contentTypeOf(path: string): string {
  const dot = path.lastIndexOf('.')
  const extension = dot === -1 ? '' : path.slice(dot + 1).toLowerCase()
  return TYPES[extension] ?? 'application/octet-stream'
}
