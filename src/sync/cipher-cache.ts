/**
 * Vault ciphers kept for the life of the process. Deriving one is scrypt with
 * N=32768, r=8: about 32 MiB and a tenth of a second of CPU each time, which a
 * warm function would otherwise pay again on every run and every slice of a
 * vault (the schedule's runs, a long run's continuations), on top of whatever
 * the sync before it left resident. Keyed by a hash of what the key is derived
 * from, so a run that brings another password gets its own.
 */
import { createHash } from 'node:crypto'
import type { VaultCipher, VaultInfo } from './obsidian/index.ts'

/** Vaults whose keys are kept; the least recently used goes first. */
const KEPT_CIPHERS = 16

export class CipherCache {
  private readonly ciphers = new Map<string, Promise<VaultCipher>>()

  constructor(private readonly limit = KEPT_CIPHERS) {}

  /** The vault's cipher, from `derive` the first time; a derivation that fails is not kept. */
  async get(
    vault: Pick<VaultInfo, 'salt' | 'encryptionVersion'>,
    password: string,
    derive: () => Promise<VaultCipher>
  ): Promise<VaultCipher> {
    const key = createHash('sha256')
      .update(JSON.stringify([vault.salt, vault.encryptionVersion, password]))
      .digest('base64url')
    const kept = this.ciphers.get(key)
    this.ciphers.delete(key)
    const cipher = kept ?? derive()
    this.ciphers.set(key, cipher)
    if (this.ciphers.size > this.limit) this.ciphers.delete(this.ciphers.keys().next().value!)
    try {
      return await cipher
    } catch (err) {
      if (this.ciphers.get(key) === cipher) this.ciphers.delete(key)
      throw err
    }
  }
}
