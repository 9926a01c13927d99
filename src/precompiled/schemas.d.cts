// Types of schemas.cjs, which, with schema-code.txt, `npm run build` generates (scripts/precompile-schemas.ts) and git ignores.
import type { PrecompiledModule } from '../http/schema-compilers.ts'

declare const precompiled: PrecompiledModule
export = precompiled
