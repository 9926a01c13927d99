import { readSecret, type SecretClients } from '../aws/secrets.ts'
import { parseApiKeys, type ApiKey } from './api-keys.ts'

export interface KeySource {
  /** `API_KEYS_SECRET`: a Secrets Manager secret id or ARN, or `ssm:<parameter name>`. */
  apiKeysSecret?: string
  /** The app's clients: the read builds the one it needs. */
  clients: SecretClients
}

/**
 * Reads the API keys kept in Secrets Manager or SSM Parameter Store. Called once,
 * when the app is built (on Lambda: at cold start), so a request never waits on it.
 */
export async function loadSecretApiKeys({ apiKeysSecret, clients }: KeySource): Promise<ApiKey[]> {
  if (apiKeysSecret === undefined) return []
  const { value, origin } = await readSecret(apiKeysSecret, clients)
  return parseApiKeys(value, origin)
}
