/**
 * Numbers a JSON body may carry: those that come back as they were sent.
 * JSON.parse reads `1e309` as Infinity (stored, it comes back as `null`) and
 * `12345678901234567890123` as the nearest double (it comes back rounded to
 * 12345678901234567741440). Both are refused, so nothing is stored other than
 * it was sent; such an integer must be sent as a string. An integer past 2^53
 * that a double holds exactly (`100000000000000000000`, what JSON.stringify
 * writes for 1e20) is kept.
 */

const isDigit = (code: number): boolean => code >= 48 && code <= 57
const NUMBER_CHAR = /[0-9eE.+-]/

/** True when the double JSON.parse makes of this integer literal is that very integer. */
function exact(literal: string): boolean {
  const value = Number(literal)
  return Number.isSafeInteger(value) || (Number.isFinite(value) && BigInt(value) === BigInt(literal))
}

/**
 * The first number written as a plain integer (no fraction, no exponent) in
 * this JSON text that a double does not hold exactly. Scans characters,
 * skipping strings: only called for a body whose parsed value holds an
 * integer past Number.MAX_SAFE_INTEGER, so the rest of the requests never pay
 * for it.
 */
export function inexactIntegerLiteral(text: string): string | undefined {
  let i = 0
  while (i < text.length) {
    const code = text.charCodeAt(i)
    if (code === 34) {
      // A string: skip to its closing quote, stepping over escapes.
      i++
      while (i < text.length && text.charCodeAt(i) !== 34) i += text.charCodeAt(i) === 92 ? 2 : 1
      i++
    } else if (code === 45 || isDigit(code)) {
      const start = i
      while (i < text.length && NUMBER_CHAR.test(text[i]!)) i++
      const literal = text.slice(start, i)
      if (/^-?[0-9]+$/.test(literal) && !exact(literal)) return literal
    } else {
      i++
    }
  }
  return undefined
}

/** Why a parsed body's numbers cannot be kept as sent (naming where), or undefined when they can. */
export function numberProblem(value: unknown, text: string): string | undefined {
  let unsafe = false
  const stack: Array<[unknown, string]> = [[value, 'body']]
  while (stack.length > 0) {
    const [current, path] = stack.pop()!
    if (typeof current === 'number') {
      if (!Number.isFinite(current)) return `${path} is a number too large for JSON to carry (it would be Infinity)`
      if (Number.isInteger(current) && !Number.isSafeInteger(current)) unsafe = true
    } else if (Array.isArray(current)) {
      current.forEach((item, i) => stack.push([item, `${path}[${i}]`]))
    } else if (typeof current === 'object' && current !== null) {
      for (const [key, item] of Object.entries(current)) stack.push([item, `${path}.${key}`])
    }
  }
  // Past 2^53 every double is an integer: only the text says whether one was sent as an integer it cannot hold.
  const literal = unsafe ? inexactIntegerLiteral(text) : undefined
  if (literal === undefined) return undefined
  const shown = literal.length > 40 ? `${literal.slice(0, 40)}…` : literal
  return `body holds the integer ${shown}, which a JSON number cannot carry exactly (past 2^53 - 1, ${Number.MAX_SAFE_INTEGER}, it would come back rounded): send it as a string`
}
