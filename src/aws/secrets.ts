import type { AwsClients } from './clients.ts'

/** Where secrets are read from: the app's clients (src/aws/clients.ts), each built on its first read. */
export type SecretClients = Pick<AwsClients, 'secretsManager' | 'ssm'>

/**
 * The text of a Secrets Manager secret (id or ARN) or, for `ssm:<name>`, of an
 * SSM SecureString parameter; with a description of where it came from, for
 * error messages that must not hold the value.
 */
export async function readSecret(name: string, clients: SecretClients): Promise<{ value: string; origin: string }> {
  // Each client (and its SDK module) is made only by the deployments that keep a secret there.
  if (name.startsWith('ssm:')) {
    const { GetParameterCommand } = await import('@aws-sdk/client-ssm')
    const ssm = await clients.ssm()
    const { Parameter } = await ssm.send(new GetParameterCommand({ Name: name.slice(4), WithDecryption: true }))
    return { value: Parameter?.Value ?? '', origin: `SSM parameter ${name.slice(4)}` }
  }
  const { GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager')
  const secretsManager = await clients.secretsManager()
  const { SecretString } = await secretsManager.send(new GetSecretValueCommand({ SecretId: name }))
  return { value: SecretString ?? '', origin: `secret ${name}` }
}
