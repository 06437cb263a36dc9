// What the component exports, built by build.sh: the rule's hook object and its settings check,
// or the helpers' accept-all check when rule.js exports no `settings` (without one the component
// would build, and the server would refuse it when it checks the settings).
import * as rule from './rule.js';
import { acceptAllSettings } from './sdk/wasmhook.js';

export const {{hook_export}} = rule.{{hook_export}};
export const settings = rule.settings ?? acceptAllSettings;
