import t from 'tap'
import { ApiKeyStore, generateApiKey, hashKey, parseApiKeys } from '../src/auth/api-keys.ts'
import { grants, missingScopes } from '../src/auth/scopes.ts'
import { ensureDevApiKey } from '../src/auth/dev-key.ts'
import { loadConfig } from '../src/config/config.ts'

t.test('scope wildcards', async t => {
  t.ok(grants('*', 'users:read'))
  t.ok(grants('users:*', 'users:write'))
  t.notOk(grants('users:*', 'assets:read'))
  t.ok(grants('projects:*:read', 'projects:p1:read'))
  t.notOk(grants('projects:*:read', 'projects:p1:write'))
  t.ok(grants('projects:p1:*', 'projects:p1:write'))
  t.notOk(grants('projects:p1:*', 'projects:p2:write'))
  t.notOk(grants('users:read', 'users:read:extra'))
  t.notOk(grants('users', 'users:read'))
  t.same(missingScopes(['users:read'], ['users:read', 'users:write']), ['users:write'])
})

t.test('API keys: generated, parsed, found by hash', async t => {
  const { key, entry } = generateApiKey('k1', ['users:read'])
  t.match(key, /^atk_[\w-]{43}$/)
  t.equal(entry.hash, hashKey(key))
  t.notOk(JSON.stringify(entry).includes(key), 'the entry does not hold the key')
  const store = new ApiKeyStore(parseApiKeys(JSON.stringify([entry]), 'API_KEYS'))
  t.equal(store.find(key)?.id, 'k1')
  t.equal(store.find(key + 'x'), undefined)
  t.throws(() => parseApiKeys('{', 'API_KEYS'), /not valid JSON/)
  t.throws(() => parseApiKeys(JSON.stringify([{ id: 'a', hash: 'md5:00', scopes: [] }]), 'API_KEYS'), /hash/)
  t.throws(() => parseApiKeys(JSON.stringify([entry, entry]), 'API_KEYS'), /used twice/)
  t.throws(() => parseApiKeys(JSON.stringify([{ ...entry, scopes: ['users read'] }]), 'API_KEYS'), /scopes/)
  t.throws(() => loadConfig({ API_KEYS: '[{"id":"x"}]' }), /API_KEYS\[0\]/)
})

t.test('the dev key is made once and reused', async t => {
  const dir = t.testdir({})
  const first = await ensureDevApiKey(dir)
  t.equal(first.created, true)
  t.same(first.entry.scopes, ['*'])
  const second = await ensureDevApiKey(dir)
  t.equal(second.created, false)
  t.equal(second.key, first.key)
  t.equal(second.entry.hash, first.entry.hash)
})
