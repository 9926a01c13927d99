// Types of schemas.cjs, which `npm run build` generates (scripts/precompile-schemas.ts) and git ignores.
import type { PrecompiledSchemas } from '../schema-compilers.ts'

declare const precompiled: PrecompiledSchemas
export = precompiled
