'use strict'
// Stands in for semver where Fastify checks the Fastify version a plugin declares (fastify/lib/plugin-utils.js),
// in the Lambda bundle (scripts/esbuild-options.mjs). Fastify's plugins declare a major, `5.x`, and a release
// satisfies that when its major is that one. semver's own first check compiles its range grammar, and evaluating
// semver builds some eighty regular expressions: 4 to 5 ms of a cold start, for an answer that is one comparison.
// Any other version or range, and every other function, is semver's, loaded when first asked.
let semver
// Fastify's check is synchronous, so semver is required, not imported, when first needed.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const real = () => (semver ??= require('semver'))

const RELEASE = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/
const MAJOR_RANGE = /^(0|[1-9]\d*)\.x$/

function satisfies(version, range, options) {
  const release = typeof version === 'string' ? RELEASE.exec(version) : null
  const major = typeof range === 'string' ? MAJOR_RANGE.exec(range) : null
  if (release !== null && major !== null) return release[1] === major[1]
  return real().satisfies(version, range, options)
}

module.exports = {
  satisfies,
  gt: (...args) => real().gt(...args),
  coerce: (...args) => real().coerce(...args)
}
