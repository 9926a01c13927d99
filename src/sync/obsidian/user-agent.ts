/**
 * The User-Agent every request to Obsidian sends: this product and its
 * version, so the service can tell it from its own clients. The version is
 * package.json's, imported (esbuild inlines it into the Lambda bundle, which
 * has no package.json of the app's to read at run time).
 */
import pkg from '../../../package.json' with { type: 'json' }

export const USER_AGENT = `obsync-lambda/${pkg.version}`
