//! JSON Patch operations (RFC 6902) as Okta's patch commands take them: checked against the
//! rules every hook shares (a well-formed RFC 6901 pointer, a JSON value for `add` and `replace`,
//! none for `remove`), then against the hook's own rules, and rendered.

use serde_json::{Map, Value};

use super::types::{PatchOp, PatchOperation};
use crate::untrusted::GuestText;

/// Most bytes of a path quoted in a refusal (it is guest text).
const PATH_BYTES: usize = 96;

/// An operation as a hook's rules see it: the op, the path's segments unescaped, and the value.
pub struct Checked<'a> {
    pub op: PatchOp,
    /// `/claims/a~1b` is `["claims", "a/b"]`.
    pub segments: &'a [String],
    pub value: Option<&'a Value>,
}

/// Renders `operations` as the `value` of a patch command, refusing the first one that is
/// malformed or that `hook_rules` refuses (its message names the operation's path).
pub fn render(
    operations: Vec<PatchOperation>,
    hook_rules: impl Fn(&Checked) -> Result<(), String>,
) -> Result<Value, String> {
    let mut rendered = Vec::with_capacity(operations.len());
    for PatchOperation { op, path, value } in operations {
        let quoted = || GuestText::new(&path, PATH_BYTES);
        let segments = segments(&path).map_err(|why| format!("patch path `{}` {why}", quoted()))?;
        let value = match value.as_deref() {
            None => None,
            Some(text) => Some(
                serde_json::from_str::<Value>(text)
                    .map_err(|e| format!("the value for `{}` is not valid JSON: {e}", quoted()))?,
            ),
        };
        let value = match (op, value) {
            (PatchOp::Remove, None | Some(Value::Null)) => None,
            (PatchOp::Remove, Some(_)) => {
                return Err(format!("`remove` of `{}` carries a value", quoted()));
            }
            (PatchOp::Add | PatchOp::Replace, None) => {
                return Err(format!("`{}` of `{}` has no value", op_name(op), quoted()));
            }
            (PatchOp::Add | PatchOp::Replace, Some(value)) => Some(value),
        };
        let checked = Checked {
            op,
            segments: &segments,
            value: value.as_ref(),
        };
        hook_rules(&checked)
            .map_err(|why| format!("`{}` of `{}`: {why}", op_name(op), quoted()))?;
        let mut object = Map::new();
        object.insert("op".into(), op_name(op).into());
        object.insert("path".into(), path.into());
        if let Some(value) = value {
            object.insert("value".into(), value);
        }
        rendered.push(Value::Object(object));
    }
    Ok(Value::Array(rendered))
}

/// A lower bound of the rendered size of the patch command `command_type` with `operations`,
/// none when there are no operations (no command is sent): `{"type":"…","value":[]}` is 22 bytes
/// besides the type, and every operation at least 25 besides its path (`{"op":"remove","path":""}`).
pub fn min_command_bytes(command_type: &str, operations: &[PatchOperation]) -> usize {
    if operations.is_empty() {
        return 0;
    }
    let operations: usize = operations.iter().map(|op| 25 + op.path.len()).sum();
    22 + command_type.len() + operations
}

fn op_name(op: PatchOp) -> &'static str {
    match op {
        PatchOp::Add => "add",
        PatchOp::Replace => "replace",
        PatchOp::Remove => "remove",
    }
}

/// The unescaped segments of an RFC 6901 pointer. Okta's paths always name a member, so the
/// empty pointer (the whole document) and empty segments are refused too.
fn segments(path: &str) -> Result<Vec<String>, &'static str> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err("does not start with `/`");
    };
    rest.split('/')
        .map(|segment| {
            if segment.is_empty() {
                return Err("has an empty segment");
            }
            let mut unescaped = String::with_capacity(segment.len());
            let mut chars = segment.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    unescaped.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => unescaped.push('~'),
                    Some('1') => unescaped.push('/'),
                    _ => return Err("has a `~` that is not `~0` or `~1` (RFC 6901)"),
                }
            }
            Ok(unescaped)
        })
        .collect()
}

/// Escapes `name` as one segment of a JSON Pointer (`~` → `~0`, `/` → `~1`).
pub fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(op: PatchOp, path: &str, value: Option<&str>) -> PatchOperation {
        PatchOperation {
            op,
            path: path.into(),
            value: value.map(Into::into),
        }
    }

    #[test]
    fn pointers_are_unescaped_as_rfc_6901_says() {
        assert_eq!(
            segments("/claims/http:~1~1example.com~1a~0b").unwrap(),
            ["claims", "http://example.com/a~b"]
        );
        for bad in ["", "claims/a", "/claims//a", "/claims/a~2", "/claims/a~"] {
            assert!(segments(bad).is_err(), "{bad}");
        }
        assert_eq!(escape("http://x/~y"), "http:~1~1x~1~0y");
    }

    #[test]
    fn values_are_required_for_add_and_replace_and_refused_for_remove() {
        let any = |_: &Checked| Ok(());
        let rendered = render(
            vec![
                op(PatchOp::Add, "/claims/a", Some(r#"{"b":[1,2]}"#)),
                op(PatchOp::Remove, "/claims/c", None),
                op(PatchOp::Remove, "/claims/d", Some("null")),
            ],
            any,
        )
        .unwrap();
        assert_eq!(
            rendered.to_string(),
            r#"[{"op":"add","path":"/claims/a","value":{"b":[1,2]}},{"op":"remove","path":"/claims/c"},{"op":"remove","path":"/claims/d"}]"#
        );
        for bad in [
            op(PatchOp::Remove, "/claims/a", Some("1")),
            op(PatchOp::Add, "/claims/a", None),
            op(PatchOp::Replace, "/claims/a", Some("not json")),
            op(PatchOp::Add, "claims", Some("1")),
        ] {
            assert!(render(vec![bad.clone()], any).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_refusal_quotes_the_path_escaped() {
        let refuse = |_: &Checked| Err("no".to_owned());
        let message = render(
            vec![op(PatchOp::Add, "/claims/\n\u{1b}x", Some("1"))],
            refuse,
        )
        .unwrap_err();
        assert!(
            !message.contains('\n') && !message.contains('\u{1b}'),
            "{message}"
        );
    }
}
