// Allows every registration, and exports no settings check: the SDK's default (accept any
// settings) is what the tests see of it. With a `crash` setting it calls a helper that does not
// exist, the typo every author makes once: the tests see how the exception reaches them.
// Never deploy it.
import * as sdk from '../../../guest-sdk/javascript/wasmhook.js';

export const registration = sdk.rule({
  evaluate(request) {
    if ('crash' in sdk.settings(request)) {
      return sdk.allowAll();
    }
    return sdk.allow();
  },
});
