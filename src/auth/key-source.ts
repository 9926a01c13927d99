import { readSecret, type SecretSource } from '../secrets.ts'
import { parseApiKeys, type ApiKey } from './api-keys.ts'

export interface KeySourceConfig extends SecretSource {
  /** `API_KEYS_SECRET`: a Secrets Manager secret id or ARN, or `ssm:<parameter name>`. */
  apiKeysSecret?: string
}

/**
 * Reads the API keys kept in Secrets Manager or SSM Parameter Store. Called once,
 * when the app is built (on Lambda: at cold start), so a request never waits on it.
 */
export async function loadSecretApiKeys(config: KeySourceConfig): Promise<ApiKey[]> {
  if (config.apiKeysSecret === undefined) return []
  const { value, origin } = await readSecret(config.apiKeysSecret, config)
  return parseApiKeys(value, origin)
}
