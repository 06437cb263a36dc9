//! Reading profile attributes. Okta profile values are arbitrary JSON, so they arrive as JSON text
//! and are parsed on demand.

use serde_json::Value;

use crate::types::Attribute;

/// Read helpers on a list of profile attributes (`data.userProfile`, `data.userProfileUpdate`, …).
pub trait ProfileExt {
    /// The attribute's raw JSON text, if present.
    fn get_json(&self, name: &str) -> Option<&str>;

    /// The attribute's value, parsed. `None` when absent or not valid JSON.
    fn get_value(&self, name: &str) -> Option<Value> {
        serde_json::from_str(self.get_json(name)?).ok()
    }

    /// The attribute's value when it is a JSON string.
    fn get_str(&self, name: &str) -> Option<String> {
        match self.get_value(name)? {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The lowercased domain of the `email` attribute; see [`email_domain`].
    fn email_domain(&self) -> Option<String> {
        email_domain(&self.get_str("email")?)
    }
}

impl ProfileExt for [Attribute] {
    fn get_json(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }
}

/// The domain of an email address: the text after the **last** `@`, lowercased.
///
/// Compare the result for equality with an allow-list. Never test it with a substring search
/// (Okta's sample does, and so accepts `evilokta.com` and `okta.com.attacker.net`).
/// Returns `None` when there is no `@`, or nothing before or after it.
pub fn email_domain(email: &str) -> Option<String> {
    let (local, domain) = email.trim().rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    Some(domain.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(name: &str, value: &str) -> Attribute {
        Attribute {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn email_domain_takes_text_after_last_at_lowercased() {
        assert_eq!(
            email_domain("Rosario.Jones@Example.COM").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            email_domain("\"a@b\"@evil.net").as_deref(),
            Some("evil.net")
        );
        assert_eq!(
            email_domain("a@okta.com.attacker.net").as_deref(),
            Some("okta.com.attacker.net")
        );
    }

    #[test]
    fn email_domain_rejects_addresses_without_both_parts() {
        assert_eq!(email_domain("example.com"), None);
        assert_eq!(email_domain("@example.com"), None);
        assert_eq!(email_domain("user@"), None);
    }

    #[test]
    fn profile_reads_values_by_json_type() {
        let profile = [attr("email", "\"a@B.org\""), attr("employeeNumber", "1234")];
        assert_eq!(profile.email_domain().as_deref(), Some("b.org"));
        assert_eq!(
            profile.get_str("employeeNumber"),
            None,
            "a JSON number is not a string"
        );
        assert_eq!(profile.get_value("employeeNumber"), Some(Value::from(1234)));
        assert_eq!(profile.get_json("missing"), None);
    }
}
