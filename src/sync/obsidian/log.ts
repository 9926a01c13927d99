/** What the client logs through: pino's shape, so an app logger (or a child of it) fits. */
export interface ClientLog {
  debug: (fields: Record<string, unknown>, message: string) => void
  warn: (fields: Record<string, unknown>, message: string) => void
}

export const silentLog: ClientLog = { debug: () => {}, warn: () => {} }
