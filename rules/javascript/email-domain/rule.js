// Self-service registration: allow only email addresses whose domain is exactly one of
// `allowed_domains` (case-insensitive). The same rule and decisions as rules/email-domain (Rust).
import * as sdk from '../../../guest-sdk/javascript/wasmhook.js';

export const settings = {
  validateSettings(settings) {
    const allowed = sdk.parseSettings(settings).allowed_domains;
    if (!Array.isArray(allowed) || !allowed.every((d) => typeof d === 'string')) {
      throw new Error('`allowed_domains` must be a list of email domains (strings)');
    }
  },
};

export const registration = sdk.rule({
  evaluate(request) {
    const allowed = sdk.settings(request).allowed_domains;
    const domain = sdk.emailDomain(sdk.get(sdk.submitted(request), 'email'));
    if (domain !== undefined && allowed.some((d) => d.toLowerCase() === domain)) {
      return sdk.allow();
    }
    return sdk.deny(
      'Incorrect email address. Please contact your admin.',
      sdk.fieldError('data.userProfile.email', 'INVALID_EMAIL_DOMAIN', `Only emails from ${allowed.join(', ')} can register.`),
    );
  },
});
