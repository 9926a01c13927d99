/**
 * `npm run keys:create -- --scopes users:read,users:write [--id name]`:
 * prints a new random key (shown once, never stored) and the entry that goes
 * into API_KEYS or the API_KEYS_SECRET secret.
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { generateApiKey } from '../auth/api-keys.ts'
import { isValidScope } from '../auth/scopes.ts'

const { values } = parseArgs({
  options: {
    scopes: { type: 'string' },
    id: { type: 'string' }
  }
})

const scopes = (values.scopes ?? '')
  .split(',')
  .map(s => s.trim())
  .filter(Boolean)
const invalid = scopes.filter(s => !isValidScope(s))
if (scopes.length === 0 || invalid.length > 0) {
  console.error(
    invalid.length > 0
      ? `Not a scope: ${invalid.join(', ')}`
      : 'Give the key its scopes: --scopes users:read,users:write'
  )
  console.error(
    'Scopes: users:read users:write assets:read assets:write projects:<projectId>:read projects:<projectId>:write sync:run sync:read sync:restore; * matches one segment, a final * the rest.'
  )
  process.exit(2)
}

const { key, entry } = generateApiKey(values.id ?? `key-${randomBytes(4).toString('hex')}`, scopes)
console.log(`key:   ${key}`)
console.log(`entry: ${JSON.stringify(entry)}`)
console.log('')
console.log('Give the key to its user; it is not shown again. Add the entry to the JSON array in API_KEYS')
console.log('(or in the secret named by API_KEYS_SECRET), e.g.')
console.log(`  API_KEYS='${JSON.stringify([entry])}'`)
