/**
 * AES-SIV (RFC 5297) on node:crypto's AES primitives, which have CBC and CTR
 * but no CMAC or SIV: deterministic authenticated encryption, what Obsidian
 * Sync uses for paths from encryption version 2 on. The key is K1 || K2 (32
 * bytes for AES-128-SIV, 64 for AES-256-SIV): K1 for S2V, K2 for CTR.
 *
 * One difference from the RFC, Obsidian's own: its client runs the CTR step
 * through WebCrypto's AES-CTR with `length: 16`, so only the low 16 bits of
 * the counter block count up, and they wrap to 0 without carrying into the
 * bits above. For inputs whose counter does not pass 0xFFFF the two agree
 * (the RFC's vectors hold); for the others only this one reads what that
 * client wrote.
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

/** AES-CTR as WebCrypto's `length: 16` runs it: in runs of blocks up to each wrap of the low 16 bits to 0. */
function ctr16(key: Buffer, counterBlock: Buffer, data: Buffer): Buffer {
  const out = Buffer.alloc(data.length)
  const block = Buffer.from(counterBlock)
  for (let offset = 0; offset < data.length;) {
    // node's CTR carries over all 128 bits; within a run that ends at 0xFFFF there is nothing for it to carry.
    const end = Math.min(data.length, offset + (0x10000 - block.readUInt16BE(BLOCK - 2)) * BLOCK)
    createCipheriv(aes(key, 'ctr'), key, block).update(data.subarray(offset, end)).copy(out, offset)
    block.writeUInt16BE(0, BLOCK - 2)
    offset = end
  }
  return out
}

/** SIV || ciphertext. */
export function sivEncrypt(key: Buffer, plaintext: Buffer, associatedData: Buffer[] = []): Buffer {
  const [macKey, ctrKey] = split(key)
  const siv = s2v(macKey, [...associatedData, plaintext])
  return Buffer.concat([siv, ctr16(ctrKey, counter(siv), plaintext)])
}

/** The plaintext, or undefined when the SIV does not authenticate it (wrong key, tampered data). */
export function sivDecrypt(key: Buffer, sealed: Buffer, associatedData: Buffer[] = []): Buffer | undefined {
  if (sealed.length < BLOCK) return undefined
  const [macKey, ctrKey] = split(key)
  const siv = sealed.subarray(0, BLOCK)
  const plaintext = ctr16(ctrKey, counter(siv), sealed.subarray(BLOCK))
  return timingSafeEqual(s2v(macKey, [...associatedData, plaintext]), siv) ? plaintext : undefined
}
