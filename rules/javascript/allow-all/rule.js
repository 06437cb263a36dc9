// Allows every registration, and exports no settings check: the SDK's default (accept any
// settings) is what the tests see of it. Never deploy it.
import * as sdk from '../../../guest-sdk/javascript/wasmhook.js';

export const registration = {
  evaluate(_request) {
    return sdk.allow();
  },
};
