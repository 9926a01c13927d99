/**
 * The little XML the embedded S3 speaks: documents it writes, and the few
 * small, flat request bodies it reads (tags, versioning, the parts of a
 * multipart upload), which need no general parser.
 */

/** A node of a document to write: an element's children, a text value, or a list of repeated elements. */
export type XmlValue = string | number | boolean | undefined | XmlElement | XmlValue[]
export interface XmlElement {
  [name: string]: XmlValue
}
/** A document's children by name, in insertion order; or as name-value pairs where names of several kinds interleave. */
export type XmlBody = XmlElement | Array<[string, XmlValue]>

export function escapeXml(text: string): string {
  return text.replace(/[<>&'"\r]/g, c => `&#${c.charCodeAt(0)};`)
}

/** `<root>…</root>` (in S3's namespace, as S3 answers, but for errors); undefined values are left out, arrays repeat. */
export function xmlDocument(root: string, body: XmlBody): string {
  const namespace = root === 'Error' ? '' : ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${namespace}>${children(body)}</${root}>`
}

function children(body: XmlBody): string {
  const pairs = Array.isArray(body) ? body : Object.entries(body)
  return pairs.map(([name, value]) => element(name, value)).join('')
}

function element(name: string, value: XmlValue): string {
  if (value === undefined) return ''
  if (Array.isArray(value)) return value.map(item => element(name, item)).join('')
  if (typeof value === 'object') return `<${name}>${children(value)}</${name}>`
  return `<${name}>${escapeXml(String(value))}</${name}>`
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }

export function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, entity: string) => {
    if (entity[0] === '#') {
      const code =
        entity[1] === 'x' || entity[1] === 'X' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10)
      return Number.isFinite(code) ? String.fromCodePoint(code) : whole
    }
    return ENTITIES[entity.toLowerCase()] ?? whole
  })
}

/** The contents of every `<name>…</name>` in `xml` (not nested in one another), in order. */
export function elements(xml: string, name: string): string[] {
  const found: string[] = []
  const pattern = new RegExp(`<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>|<${name}(?:\\s[^>]*)?/>`, 'g')
  for (const match of xml.matchAll(pattern)) found.push(match[1] ?? '')
  return found
}

/** The unescaped text of the first `<name>` in `xml`, or undefined. */
export function text(xml: string, name: string): string | undefined {
  const [first] = elements(xml, name)
  return first === undefined ? undefined : unescapeXml(first)
}
