// Event hook: forwards each event it is given (route it the events to forward, e.g.
// `event_type = "user.lifecycle.deactivate"`) to an HTTP endpoint, with one POST of
// {"uuid", "eventType", "published", "attempt", "users": [{"id", "login"}]} as JSON to the
// settings' `forward_url`. Any 2xx is done; any other answer, or none, is an error, so the server
// tries again later. The endpoint should treat a repeated `uuid` as done: the server runs a rule
// at least once per event. The same rule and outcomes as rules/event-forward (Rust).
import * as sdk from '../../../guest-sdk/javascript/wasmhook.js';

/** The settings' `forward_url`; anything else is a settings mistake. */
function forwardUrl(settings) {
  if (typeof settings.forward_url !== 'string') {
    throw new Error('`forward_url` must be the URL to forward events to');
  }
  return settings.forward_url;
}

// Settings without a `forward_url` are refused when the route loads, not for every event.
export const settings = {
  validateSettings(settings) {
    forwardUrl(sdk.parseSettings(settings));
  },
};

export const event = sdk.rule({
  /** @param {sdk.EventRequest} request */
  handle(request) {
    const url = forwardUrl(sdk.settings(request));
    const { event } = request;
    // An absent login is `null`, as the Rust rule sends it (JSON.stringify would drop `undefined`).
    const users = sdk.targets(event, 'User').map((user) => ({ id: user.id, login: user.alternateId ?? null }));
    const response = sdk.http.postJson(url, {
      uuid: event.uuid,
      eventType: event.eventType,
      published: event.published,
      attempt: request.attempt,
      users,
    });
    // `fail`, not an Error: the message reaches the server as it is, like the Rust rule's `Err`.
    if (response.status < 200 || response.status > 299) sdk.fail(`the endpoint answered ${response.status}`);
  },
});
