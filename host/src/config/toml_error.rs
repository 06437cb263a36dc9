//! Describing a TOML error without quoting the file.
//!
//! The TOML parser's own message shows the offending source line, and serde's messages quote the
//! offending value (`invalid type: string "Basic …", expected a sequence`). A config file holds
//! secrets, and its errors reach the log and the unauthenticated `GET /readyz`, so neither may
//! appear. What is kept: the position (line and column), the table and key it falls in (derived
//! from the file's headers and the key before `=`, both names, never values), and the message
//! with every quoted value replaced by its kind.

/// Where a TOML error is, and what it is, with no text of the file but names.
pub fn describe(text: &str, error: &toml::de::Error) -> (String, String) {
    let message = redact_values(error.message().trim());
    let Some(span) = error.span() else {
        return (String::new(), message);
    };
    let offset = span.start.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    let key = key_path(text, line_start).map_or_else(String::new, |key| format!("{key}: "));
    (format!("line {line}, column {column}: {key}"), message)
}

/// `tenant `demo`: auth.secrets` (or `limits.deadline_ms`) for the line starting at
/// `line_start`: the last table header above it and the bare key before its `=`. An error the
/// parser places on a table header (the contents of an internally tagged table such as `auth`)
/// names that table. `None` when the line has no plain `key =` (a continuation line, say), so
/// nothing but names is ever repeated.
fn key_path(text: &str, line_start: usize) -> Option<String> {
    let line = text[line_start..].lines().next().unwrap_or_default();
    let on_header = line.trim_start().starts_with('[');
    let headers_end = if on_header {
        line_start + line.len()
    } else {
        line_start
    };
    let mut path: Vec<String> = Vec::new();
    let mut array_index = std::collections::HashMap::<String, usize>::new();
    for header in text[..headers_end].lines().map(str::trim) {
        let (name, is_array) = if let Some(inner) = header.strip_prefix("[[") {
            (inner.split("]]").next()?, true)
        } else if let Some(inner) = header.strip_prefix('[') {
            (inner.split(']').next()?, false)
        } else {
            continue;
        };
        let name = name.trim();
        if !is_bare_path(name) {
            path.clear();
            continue;
        }
        path = name.split('.').map(|part| part.trim().to_owned()).collect();
        if is_array {
            let index = array_index.entry(name.to_owned()).or_insert(0);
            let last = path.last_mut().expect("a path has a part");
            *last = format!("{last}[{index}]");
            *index += 1;
        }
    }
    if !on_header {
        match line.split_once('=').map(|(key, _)| key.trim()) {
            Some(key) if is_bare_path(key) => path.push(key.to_owned()),
            Some(_) => return None,
            None => {}
        }
    }
    match path.as_slice() {
        [] => None,
        [tenants, id] if tenants == "tenants" => Some(format!("tenant `{id}`")),
        [tenants, id, rest @ ..] if tenants == "tenants" => {
            Some(format!("tenant `{id}`: {}", rest.join(".")))
        }
        _ => Some(path.join(".")),
    }
}

/// A dotted path of bare keys (`tenants.demo.auth`), the only kind of name ever repeated.
fn is_bare_path(path: &str) -> bool {
    !path.is_empty()
        && path.split('.').all(|part| {
            let part = part.trim();
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

/// serde's messages with the offending value replaced by its kind:
/// `invalid type: string "…", expected a sequence` → `invalid type: a string, expected a
/// sequence`; `unknown variant `…`` → `unknown variant`.
fn redact_values(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let (unexpected, expected) = rest.split_once(", expected").unwrap_or((rest, ""));
            let kind = unexpected.split([' ', '`', '"']).next().unwrap_or_default();
            let expected = if expected.is_empty() {
                String::new()
            } else {
                format!(", expected{expected}")
            };
            return format!("{prefix}{}{expected}", article(kind));
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let expected = rest.split_once("`, expected").map(|(_, e)| e);
        return match expected {
            Some(expected) => format!("unknown variant, expected{expected}"),
            None => "unknown variant".to_owned(),
        };
    }
    message.to_owned()
}

/// `a string`, `an integer`, `a map`: serde's name of an unexpected value's kind.
fn article(kind: &str) -> String {
    match kind {
        "" => "a value".to_owned(),
        kind if kind.starts_with(['a', 'e', 'i', 'o', 'u']) => format!("an {kind}"),
        kind => format!("a {kind}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> (String, String) {
        #[derive(serde::Deserialize, Debug)]
        #[expect(dead_code, reason = "only the error matters")]
        struct File {
            tenants: std::collections::BTreeMap<String, toml::Table>,
            listen: Option<String>,
            mode: Option<Mode>,
            secrets: Option<Vec<String>>,
        }
        #[derive(serde::Deserialize, Debug)]
        enum Mode {
            Strict,
        }
        let error = toml::from_str::<File>(text).unwrap_err();
        describe(text, &error)
    }

    #[test]
    fn syntax_errors_give_line_column_tenant_and_key_but_no_source_text() {
        let text = "[tenants.demo.auth]\ntype = \"header-secret\"\nsecrets = [\"old-secret\" \"new-secret\"]\n";
        let (location, message) = error_of(text);
        assert_eq!(location, "line 3, column 25: tenant `demo`: auth.secrets: ");
        assert!(!message.contains("secret"), "{message}");
        assert!(
            !location.contains("old") && !message.contains("old"),
            "{message}"
        );
    }

    #[test]
    fn type_errors_name_the_kind_of_value_not_the_value() {
        let (location, message) = error_of("secrets = \"Basic c2VjcmV0\"\n[tenants]\n");
        assert_eq!(location, "line 1, column 11: secrets: ");
        assert_eq!(message, "invalid type: a string, expected a sequence");
        let (_, message) = error_of("mode = \"Basic c2VjcmV0\"\n[tenants]\n");
        assert!(
            message.starts_with("unknown variant, expected"),
            "{message}"
        );
        assert!(!message.contains("c2VjcmV0"), "{message}");
    }

    #[test]
    fn arrays_of_tables_are_numbered_and_unusual_keys_are_not_repeated() {
        let text =
            "[tenants.demo]\n[[tenants.demo.routes]]\na = 1\n[[tenants.demo.routes]]\nb = \n";
        let (location, _) = error_of(text);
        assert_eq!(location, "line 5, column 5: tenant `demo`: routes[1].b: ");
        let (location, _) = error_of("[tenants.demo]\n\"Basic c2VjcmV0\" = \n");
        assert_eq!(location, "line 2, column 20: ");
    }
}
