// Telephony hook: sends the message Okta would send (`msgTemplate`, the code included) through an
// SMS provider's HTTP API, with one POST of {"to": …, "channel": "sms" | "voice", "message": …} as
// JSON to the settings' `send_url`. 200 or 201 with {"id": …} means it was sent, 202 that it will
// be; anything else, or no answer, is an error, so Okta sends the code itself. The same rule and
// decisions as rules/telephony-sms-provider (Rust).
import * as sdk from '../../../guest-sdk/javascript/wasmhook.js';

/** The settings' `send_url` and `provider`; anything else is a settings mistake. */
function checked(settings) {
  if (typeof settings.send_url !== 'string' || typeof settings.provider !== 'string') {
    throw new Error("`send_url` must be the provider's URL and `provider` its name (strings)");
  }
  return settings;
}

// Settings without a `send_url` and a `provider` are refused when the route loads.
export const settings = {
  validateSettings(settings) {
    checked(sdk.parseSettings(settings));
  },
};

export const telephony = sdk.rule({
  evaluate(request) {
    const { send_url: sendUrl, provider } = checked(sdk.settings(request));
    const message = request.messageProfile;
    const channel = sdk.isVoiceCall(request) ? 'voice' : 'sms';
    const response = sdk.http.postJson(sendUrl, { to: message.phoneNumber, channel, message: message.msgTemplate });
    if (response.status === 200 || response.status === 201) return sdk.sent('successful', provider, response.json().id);
    if (response.status === 202) return sdk.sent('pending', provider, response.json().id);
    throw new Error(`the SMS provider answered ${response.status}`);
  },
});
