import t from 'tap'
import { CipherCache } from '../../src/sync/cipher-cache.ts'
import { ObsidianError } from '../../src/sync/obsidian/errors.ts'
import { vaultCipher, type VaultCipher } from '../../src/sync/obsidian/vault-cipher.ts'

const vault = { salt: 'salt one', encryptionVersion: 3 }

/** A derive function that counts its calls, deriving for real. */
function counted(password: string, v: { salt: string; encryptionVersion: number }) {
  const calls = { n: 0 }
  const derive = async (): Promise<VaultCipher> => {
    calls.n++
    return await vaultCipher(password, v.salt, v.encryptionVersion)
  }
  return { calls, derive }
}

t.test('a vault key is derived once for the same password, salt and version, concurrent asks included', async t => {
  const cache = new CipherCache()
  const { calls, derive } = counted('pw', vault)
  const [a, b] = await Promise.all([cache.get(vault, 'pw', derive), cache.get(vault, 'pw', derive)])
  const c = await cache.get(vault, 'pw', derive)
  t.equal(calls.n, 1)
  t.equal(a, b)
  t.equal(a, c)
  t.equal(c.decryptPath(c.encryptPath('notes/a.md')), 'notes/a.md')
})

t.test('another password, salt or version is another key', async t => {
  const cache = new CipherCache()
  const first = await cache.get(vault, 'pw', counted('pw', vault).derive)
  for (const [password, v] of [
    ['other pw', vault],
    ['pw', { ...vault, salt: 'salt two' }],
    ['pw', { ...vault, encryptionVersion: 2 }]
  ] as const) {
    const { calls, derive } = counted(password, v)
    const cipher = await cache.get(v, password, derive)
    t.equal(calls.n, 1, `${password}, ${v.salt}, v${v.encryptionVersion} derives its own`)
    t.not(cipher, first, 'not the cipher kept for the first')
  }
})

t.test('a failed derivation is not kept; the least recently used key goes past the limit', async t => {
  const cache = new CipherCache(2)
  const unsupported = { salt: 's', encryptionVersion: 1 }
  const failing = counted('pw', unsupported)
  await t.rejects(cache.get(unsupported, 'pw', failing.derive), ObsidianError)
  await t.rejects(cache.get(unsupported, 'pw', failing.derive), ObsidianError)
  t.equal(failing.calls.n, 2, 'asked again, it derives again')

  const vaults = ['a', 'b', 'c'].map(salt => ({ salt, encryptionVersion: 3 }))
  const derives = vaults.map(v => counted('pw', v))
  await cache.get(vaults[0]!, 'pw', derives[0]!.derive)
  await cache.get(vaults[1]!, 'pw', derives[1]!.derive)
  await cache.get(vaults[0]!, 'pw', derives[0]!.derive) // a is used again: b is now the oldest
  await cache.get(vaults[2]!, 'pw', derives[2]!.derive)
  await cache.get(vaults[0]!, 'pw', derives[0]!.derive)
  await cache.get(vaults[1]!, 'pw', derives[1]!.derive)
  t.same(
    derives.map(d => d.calls.n),
    [1, 2, 1],
    'a stayed, b was dropped for c and derived again'
  )
})
