/** ETags of versioned resources are the version number, quoted: `"3"`. */
export const etagOf = (version: number): string => `"${version}"`

/**
 * Parses If-Match / If-None-Match: `*`, or a comma-separated list of strong or
 * weak ETags. An entry that names no version matches nothing.
 */
export function parseVersionList (header: string): '*' | number[] {
  if (header.trim() === '*') return '*'
  return header.split(',').flatMap(part => {
    const match = /^\s*(?:W\/)?"(\d{1,15})"\s*$/.exec(part)
    return match ? [Number(match[1])] : []
  })
}

export function matchesVersion (header: string | undefined, version: number): boolean {
  if (header === undefined) return false
  const list = parseVersionList(header)
  return list === '*' || list.includes(version)
}
