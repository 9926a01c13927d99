/** The Obsidian Sync client: no Fastify, no AWS. See docs/obsidian-client.md. */
export { ObsidianApi, type Account, type Credentials, type VaultInfo } from './api.ts'
export {
  DEFAULT_API_URL,
  ObsidianClient,
  type CreatedVault,
  type CreateVaultOptions,
  type ObsidianClientOptions,
  type OpenVaultOptions
} from './client.ts'
export { ObsidianError, type ObsidianErrorCode } from './errors.ts'
export type { ClientLog } from './log.ts'
export { VaultSession, type Push, type PushEvent } from './session.ts'
export { totpCode } from './totp.ts'
export {
  extensionOf,
  PIECE_BYTES,
  type UploadFile,
  type UploadFolder,
  type UploadItem,
  type UploadSource
} from './upload.ts'
export { SUPPORTED_ENCRYPTION_VERSIONS, vaultCipher, type VaultCipher } from './vault-cipher.ts'
