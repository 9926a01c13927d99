/**
 * AES-SIV (RFC 5297) on node:crypto's AES primitives, which have CBC and CTR
 * but no CMAC or SIV: deterministic authenticated encryption, what Obsidian
 * Sync uses for paths from encryption version 2 on. The key is K1 || K2 (32
 * bytes for AES-128-SIV, 64 for AES-256-SIV): K1 for S2V, K2 for CTR.
 */
import { createCipheriv, timingSafeEqual } from 'node:crypto'

const BLOCK = 16
const ZERO = Buffer.alloc(BLOCK)

const aes = (key: Buffer, mode: 'cbc' | 'ctr'): string => `aes-${key.length * 8}-${mode}`

/** Doubling in GF(2^128): shift left one bit, and fold the carry back with 0x87. */
function dbl(block: Buffer): Buffer {
  const out = Buffer.alloc(BLOCK)
  for (let i = 0; i < BLOCK; i++) out[i] = ((block[i]! << 1) | (i + 1 < BLOCK ? block[i + 1]! >>> 7 : 0)) & 0xff
  if ((block[0]! & 0x80) !== 0) out[BLOCK - 1]! ^= 0x87
  return out
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!
  return out
}

/** AES-CMAC (RFC 4493): CBC-MAC over the message, its last block masked by a subkey. */
export function cmac(key: Buffer, message: Buffer): Buffer {
  const l = createCipheriv(aes(key, 'cbc'), key, ZERO).setAutoPadding(false).update(ZERO)
  const k1 = dbl(l)
  const k2 = dbl(k1)
  const whole = message.length > 0 && message.length % BLOCK === 0
  const padded = whole
    ? Buffer.from(message)
    : Buffer.concat([message, Buffer.from([0x80]), Buffer.alloc(BLOCK - 1 - (message.length % BLOCK))])
  const last = padded.length - BLOCK
  xor(padded.subarray(last), whole ? k1 : k2).copy(padded, last)
  const mac = createCipheriv(aes(key, 'cbc'), key, ZERO).setAutoPadding(false).update(padded)
  return mac.subarray(mac.length - BLOCK)
}

/** S2V: a synthetic IV over the associated data strings and the plaintext, last. */
function s2v(key: Buffer, strings: Buffer[]): Buffer {
  let d = cmac(key, ZERO)
  for (const s of strings.slice(0, -1)) d = xor(dbl(d), cmac(key, s))
  const last = strings.at(-1)!
  if (last.length >= BLOCK) {
    const t = Buffer.from(last)
    xor(t.subarray(t.length - BLOCK), d).copy(t, t.length - BLOCK)
    return cmac(key, t)
  }
  const padded = Buffer.concat([last, Buffer.from([0x80]), Buffer.alloc(BLOCK - 1 - last.length)])
  return cmac(key, xor(dbl(d), padded))
}

function split(key: Buffer): [Buffer, Buffer] {
  if (key.length !== 32 && key.length !== 48 && key.length !== 64)
    throw new Error('AES-SIV takes a 32, 48 or 64-byte key')
  return [key.subarray(0, key.length / 2), key.subarray(key.length / 2)]
}

/** The counter for CTR: the SIV with bits 63 and 31 cleared, so implementations need no 128-bit carry. */
function counter(siv: Buffer): Buffer {
  const q = Buffer.from(siv)
  q[8]! &= 0x7f
  q[12]! &= 0x7f
  return q
}

/** SIV || ciphertext. */
export function sivEncrypt(key: Buffer, plaintext: Buffer, associatedData: Buffer[] = []): Buffer {
  const [macKey, ctrKey] = split(key)
  const siv = s2v(macKey, [...associatedData, plaintext])
  const cipher = createCipheriv(aes(ctrKey, 'ctr'), ctrKey, counter(siv))
  return Buffer.concat([siv, cipher.update(plaintext), cipher.final()])
}

/** The plaintext, or undefined when the SIV does not authenticate it (wrong key, tampered data). */
export function sivDecrypt(key: Buffer, sealed: Buffer, associatedData: Buffer[] = []): Buffer | undefined {
  if (sealed.length < BLOCK) return undefined
  const [macKey, ctrKey] = split(key)
  const siv = sealed.subarray(0, BLOCK)
  const decipher = createCipheriv(aes(ctrKey, 'ctr'), ctrKey, counter(siv))
  const plaintext = Buffer.concat([decipher.update(sealed.subarray(BLOCK)), decipher.final()])
  return timingSafeEqual(s2v(macKey, [...associatedData, plaintext]), siv) ? plaintext : undefined
}
