/** ETags of versioned resources are the version number, quoted: `"3"`. */
export const etagOf = (version: number): string => `"${version}"`

/**
 * Parses If-Match / If-None-Match: `*`, or a comma-separated list of ETags.
 * RFC 9110 compares If-Match strongly, so there a weak tag (`W/"3"`) names no
 * version; If-None-Match compares weakly, so there it names version 3. Either
 * way the opaque tags compare byte for byte: only the exact text etagOf gives
 * (`"3"`) names version 3, never `"03"` or `"3.0"`. An entry that names no
 * version matches nothing.
 */
export function parseVersionList(header: string, comparison: 'strong' | 'weak'): '*' | number[] {
  if (header.trim() === '*') return '*'
  return header.split(',').flatMap(part => {
    const match = /^\s*(W\/)?"(0|[1-9]\d{0,14})"\s*$/.exec(part)
    if (match === null || (match[1] !== undefined && comparison === 'strong')) return []
    return [Number(match[2])]
  })
}

/** If-Match: the versions a write may apply to; undefined without the header (any version). */
export const ifMatchVersions = (header: string | undefined): VersionCondition | undefined =>
  header === undefined ? undefined : parseVersionList(header, 'strong')

/** If-None-Match: true when the header names this version (a 304 for a read). */
export function matchesVersion(header: string | undefined, version: number): boolean {
  if (header === undefined) return false
  const list = parseVersionList(header, 'weak')
  return list === '*' || list.includes(version)
}

/** What a write's If-Match allows: any existing version (`*`), or one of these. */
export type VersionCondition = '*' | number[]

/** True when a write without If-Match, with `*`, or naming `version` may proceed. */
export const versionAllowed = (condition: VersionCondition | undefined, version: number): boolean =>
  condition === undefined || condition === '*' || condition.includes(version)
