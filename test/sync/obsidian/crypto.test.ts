import { createHash } from 'node:crypto'
import t from 'tap'
import { cmac, sivDecrypt, sivEncrypt } from '../../../src/sync/obsidian/aes-siv.ts'
import { ObsidianError } from '../../../src/sync/obsidian/errors.ts'
import { totpCode } from '../../../src/sync/obsidian/totp.ts'
import { vaultCipher } from '../../../src/sync/obsidian/vault-cipher.ts'
import { bigPlaintext, sivCounterWraps, vectors } from '../../../scripts/lib/obsidian-stand-in.ts'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

t.test('AES-CMAC: RFC 4493 examples', async t => {
  const key = hex('2b7e151628aed2a6abf7158809cf4f3c')
  const message = hex(
    '6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710'
  )
  t.equal(cmac(key, Buffer.alloc(0)).toString('hex'), 'bb1d6929e95937287fa37d129b756746')
  t.equal(cmac(key, message.subarray(0, 16)).toString('hex'), '070a16b46b4d4144f79bdd9dd04a287c')
  t.equal(cmac(key, message.subarray(0, 40)).toString('hex'), 'dfa66747de9ae63030ca32611497c827')
  t.equal(cmac(key, message).toString('hex'), '51f0bebf7e3b9d92fc49741779363cfe')
})

t.test('AES-SIV: RFC 5297 A.1 (deterministic) and A.2 (nonce-based), both directions', async t => {
  const a1 = {
    key: hex('fffefdfc fbfaf9f8 f7f6f5f4 f3f2f1f0 f0f1f2f3 f4f5f6f7 f8f9fafb fcfdfeff'),
    ad: [hex('10111213 14151617 18191a1b 1c1d1e1f 20212223 24252627')],
    plaintext: hex('11223344 55667788 99aabbcc ddee'),
    output: hex('85632d07 c6e8f37f 950acd32 0a2ecc93 40c02b96 90c4dc04 daef7f6a fe5c')
  }
  const a2 = {
    key: hex('7f7e7d7c 7b7a7978 77767574 73727170 40414243 44454647 48494a4b 4c4d4e4f'),
    ad: [
      hex('00112233 44556677 8899aabb ccddeeff deaddada deaddada ffeeddcc bbaa9988 77665544 33221100'),
      hex('10203040 50607080 90a0'),
      hex('09f91102 9d74e35b d84156c5 635688c0')
    ],
    plaintext: hex(
      '74686973 20697320 736f6d65 20706c61 696e7465 78742074 6f20656e 63727970 74207573 696e6720 5349562d 414553'
    ),
    output: hex(
      '7bdb6e3b 432667eb 06f4d14b ff2fbd0f cb900f2f ddbe4043 26601965 c889bf17 dba77ceb 094fa663 b7a3f748 ba8af829 ea64ad54 4a272e9c 485b62a3 fd5c0d'
    )
  }
  for (const [name, v] of Object.entries({ a1, a2 })) {
    t.same(sivEncrypt(v.key, v.plaintext, v.ad), v.output, `${name} encrypts`)
    t.same(sivDecrypt(v.key, v.output, v.ad), v.plaintext, `${name} decrypts`)
    const tampered = Buffer.from(v.output)
    tampered[tampered.length - 1]! ^= 1
    t.equal(sivDecrypt(v.key, tampered, v.ad), undefined, `${name}: a flipped bit does not authenticate`)
    t.equal(
      sivDecrypt(v.key, v.output, v.ad.slice(1)),
      undefined,
      `${name}: other associated data does not authenticate`
    )
  }
  t.equal(sivDecrypt(a1.key, Buffer.alloc(8)), undefined, 'shorter than a SIV')
})

t.test('TOTP: RFC 6238 SHA-1 vectors (their last six digits)', async t => {
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ' // base32 of "12345678901234567890"
  const vectors: Array<[number, string]> = [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130']
  ]
  for (const [seconds, code] of vectors) t.equal(totpCode(secret, seconds * 1000), code.slice(-6), `T = ${seconds}`)
  t.equal(
    totpCode('gezd gnbv gy3t qojq gezd gnbv gy3t qojq', 59_000),
    '287082',
    'spaces and lower case, as apps show secrets'
  )
  t.throws(() => totpCode('not base32!', 0), { code: 'MFA_INVALID' })
})

for (const vector of vectors.vaults) {
  t.test(
    `vault cipher, encryption version ${vector.encryption_version}: matches Python's output both ways`,
    async t => {
      const cipher = await vaultCipher(vector.password, vector.salt, vector.encryption_version)
      t.equal(cipher.keyhash, vector.keyhash, 'keyhash (NFKC applied to password and salt)')
      for (const r of vector.records) {
        t.equal(cipher.decryptPath(r.encPath), r.path, `path ${r.uid} decrypts, in its own normal form`)
        t.equal(cipher.encryptPath(r.path), r.encPath, `path ${r.uid} encrypts deterministically`)
        if (r.folder || r.deleted) continue
        t.equal(cipher.decryptPath(r.encHash), r.hash, `hash field ${r.uid}`)
        if (r.generated === 'big') {
          const sealed = cipher.encryptContent(bigPlaintext(r.size), hex(r.iv!))
          t.equal(
            createHash('sha256').update(sealed).digest('hex'),
            r.encSha256,
            'the 5 MiB file encrypts as Python did'
          )
          t.equal(sealed.subarray(-16).toString('hex'), r.tag)
          continue
        }
        const sealed = Buffer.from(r.encContent!, 'base64')
        t.same(
          cipher.encryptContent(Buffer.from(r.content!, 'base64'), sealed.subarray(0, 12)),
          sealed,
          `content ${r.uid} encrypts as Python did`
        )
        // Fed in pieces cut anywhere, even inside the IV and the tag.
        for (const cut of [1, 5, 13, sealed.length - 3]) {
          if (cut <= 0 || cut >= sealed.length) continue
          const decryptor = cipher.contentDecryptor(sealed.length)
          const plain = Buffer.concat([
            decryptor.update(sealed.subarray(0, cut)),
            decryptor.update(sealed.subarray(cut)),
            decryptor.final()
          ])
          t.same(plain, Buffer.from(r.content!, 'base64'), `content ${r.uid} decrypts when cut at ${cut}`)
        }
      }
    }
  )
}

t.test('vault cipher: tampering, foreign keys and unknown versions are typed errors', async t => {
  const [v0, v3] = vectors.vaults
  const cipher = await vaultCipher(v3!.password, v3!.salt, 3)
  const other = await vaultCipher('another password', v3!.salt, 3)
  const file = v3!.records.find(r => r.encContent !== undefined && r.encContent !== '')!
  t.throws(
    () => other.decryptPath(file.encPath),
    new ObsidianError('INTEGRITY', 'An encrypted path does not decrypt: its authentication check fails')
  )
  t.throws(
    () => other.decryptHash(file.encHash),
    new ObsidianError('INTEGRITY', 'An encrypted hash field does not decrypt: its authentication check fails'),
    "a hash field's failure says it was the hash field, and blames no key"
  )
  t.throws(() => cipher.decryptPath('zz'), { code: 'INTEGRITY' })
  t.throws(() => cipher.decryptPath(''), { code: 'INTEGRITY' })
  const sealed = Buffer.from(file.encContent!, 'base64')
  sealed[14]! ^= 0x80
  const decryptor = cipher.contentDecryptor(sealed.length)
  decryptor.update(sealed)
  t.throws(() => decryptor.final(), { code: 'INTEGRITY' }, 'a flipped content bit fails the tag')
  const bytewise = cipher.contentDecryptor(sealed.length)
  sealed[14]! ^= 0x80 // the bit flipped above, back
  const plain = Buffer.concat([...sealed].map(byte => bytewise.update(Buffer.from([byte]))))
  t.same(Buffer.concat([plain, bytewise.final()]), Buffer.from(file.content!, 'base64'), 'fed one byte at a time')
  const badTag = Buffer.from(sealed)
  badTag[badTag.length - 1]! ^= 0x01
  const tagged = cipher.contentDecryptor(badTag.length)
  tagged.update(badTag.subarray(0, -3))
  tagged.update(badTag.subarray(-3))
  t.throws(() => tagged.final(), { code: 'INTEGRITY' }, 'a flipped tag bit, the tag cut across pieces, fails')
  const longer = cipher.contentDecryptor(sealed.length - 1)
  t.throws(() => longer.update(sealed), { code: 'PROTOCOL' }, 'more bytes than the size it was given')
  const cut = cipher.contentDecryptor(sealed.length)
  cut.update(sealed.subarray(0, -1))
  t.throws(() => cut.final(), { code: 'PROTOCOL' }, 'fewer bytes than the size it was given')
  const short = cipher.contentDecryptor(20)
  short.update(Buffer.alloc(20))
  t.throws(() => short.final(), { code: 'INTEGRITY' }, 'shorter than an IV and a tag')
  const empty = cipher.contentDecryptor(0)
  t.same(empty.final(), Buffer.alloc(0), 'an empty file is 0 bytes on the wire')
  t.same(cipher.encryptContent(Buffer.alloc(0)), Buffer.alloc(0))
  await t.rejects(vaultCipher('x', 'y', 1), { code: 'UNSUPPORTED_ENCRYPTION' })
  const v0cipher = await vaultCipher(v0!.password.normalize('NFKC'), v0!.salt.normalize('NFKC'), 0)
  t.equal(v0cipher.keyhash, v0!.keyhash, 'NFKC forms derive the same key')
})

t.test('HKDF takes the salt as it is: only scrypt normalizes it', async t => {
  const v3 = vectors.vaults.find(v => v.encryption_version === 3 && v.salt !== v.salt.normalize('NFKC'))!
  t.ok(v3, 'a version 3 vector whose salt NFKC changes')
  t.equal((await vaultCipher(v3.password, v3.salt, 3)).keyhash, v3.keyhash)
  t.not(
    (await vaultCipher(v3.password, v3.salt.normalize('NFKC'), 3)).keyhash,
    v3.keyhash,
    'the normalized salt gives HKDF other bytes, so another keyhash'
  )
})

t.test("AES-SIV as Obsidian's client runs it: the counter's low 16 bits wrap to 0, carrying nothing", async t => {
  const standard = vectors.vaults.find(v => v.standard === true)!
  const cipher = await vaultCipher(standard.password, standard.salt, standard.encryption_version)
  const wrapping = [
    ...standard.records.filter(r => sivCounterWraps(r.encPath)).map(r => ['path', r.encPath, r.path] as const),
    ...standard.records
      .filter(r => r.encHash !== '' && sivCounterWraps(r.encHash))
      .map(r => ['hash field', r.encHash, r.hash] as const)
  ]
  t.same(
    wrapping.map(([field]) => field),
    ['path', 'hash field'],
    'the vectors hold a path and a hash field that wrap'
  )
  for (const [field, encrypted, plain] of wrapping) {
    const decrypt = field === 'path' ? cipher.decryptPath : cipher.decryptHash
    t.equal(decrypt(encrypted), plain, `the ${field} decrypts`)
    t.equal(cipher.encryptPath(plain), encrypted, `the ${field} encrypts as Python's 16-bit counter did`)
  }
})

t.test('content and paths as the official client writes them: an IV alone, a BOM', async t => {
  const [v0, v3] = vectors.vaults
  for (const vector of [v0!, v3!]) {
    const cipher = await vaultCipher(vector.password, vector.salt, vector.encryption_version)
    const ivOnly = cipher.contentDecryptor(12)
    t.same(ivOnly.update(Buffer.alloc(12, 7)), Buffer.alloc(0))
    t.same(ivOnly.final(), Buffer.alloc(0), `version ${vector.encryption_version}: 12 bytes, an IV alone, is empty`)
    t.equal(
      cipher.decryptPath(cipher.encryptPath('\ufeffnotes/with a BOM.md')),
      'notes/with a BOM.md',
      `version ${vector.encryption_version}: a decoded path loses a leading BOM`
    )
  }
})
