//! JSON operations of the cases file: overriding a request member by path, partial matching, and
//! listing where two values differ (the "diff" printed for a failing case).

use std::fmt;

use serde_json::Value;

/// Where a path leads, as segments: a JSON Pointer (`/data/userProfile/email`, RFC 6901 escapes)
/// or a dotted path as Okta writes error locations (`data.userProfile.email`).
fn segments(path: &str) -> Vec<String> {
    match path.strip_prefix('/') {
        Some(pointer) => pointer
            .split('/')
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect(),
        None => path.split('.').map(str::to_owned).collect(),
    }
}

/// Sets the member at `path` to `value`, creating the objects on the way.
pub fn set(root: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let segments = segments(path);
    let (last, parents) = segments.split_last().ok_or("empty path")?;
    let mut node = root;
    for segment in parents {
        node = match node {
            Value::Object(object) => object
                .entry(segment.clone())
                .or_insert_with(|| Value::Object(Default::default())),
            Value::Array(items) => index(items, segment)?,
            _ => {
                return Err(format!(
                    "`{segment}` is inside a value that is not an object"
                ));
            }
        };
    }
    match node {
        Value::Object(object) => {
            object.insert(last.clone(), value);
        }
        Value::Array(items) => *index(items, last)? = value,
        _ => return Err(format!("`{last}` is inside a value that is not an object")),
    }
    Ok(())
}

/// Removes the member at `path`; it must exist, so that a typo is not silently a no-op.
pub fn remove(root: &mut Value, path: &str) -> Result<(), String> {
    let segments = segments(path);
    let (last, parents) = segments.split_last().ok_or("empty path")?;
    let mut node = root;
    for segment in parents {
        node = match node {
            Value::Object(object) => object
                .get_mut(segment)
                .ok_or_else(|| format!("no member `{segment}`"))?,
            Value::Array(items) => index(items, segment)?,
            _ => return Err(format!("no member `{segment}`")),
        };
    }
    let removed = match node {
        Value::Object(object) => object.shift_remove(last).is_some(),
        Value::Array(items) => {
            let i = last.parse::<usize>().ok().filter(|i| *i < items.len());
            i.map(|i| items.remove(i)).is_some()
        }
        _ => false,
    };
    if removed {
        Ok(())
    } else {
        Err(format!("no member `{last}`"))
    }
}

fn index<'a>(items: &'a mut [Value], segment: &str) -> Result<&'a mut Value, String> {
    let len = items.len();
    segment
        .parse::<usize>()
        .ok()
        .and_then(|i| items.get_mut(i))
        .ok_or_else(|| format!("`{segment}` is not an index of an array of {len}"))
}

/// Whether `value` holds `part`: every member of an object in `part` is in `value` with a matching
/// value, an array's elements match elements of `value`'s array in order (others may come
/// between), and anything else is equal.
pub fn contains(value: &Value, part: &Value) -> bool {
    match (value, part) {
        (Value::Object(value), Value::Object(part)) => part
            .iter()
            .all(|(key, part)| value.get(key).is_some_and(|value| contains(value, part))),
        (Value::Array(values), Value::Array(parts)) => {
            let mut values = values.iter();
            parts
                .iter()
                .all(|part| values.any(|value| contains(value, part)))
        }
        _ => value == part,
    }
}

/// One place where an actual value differs from the expected one.
#[derive(Debug, PartialEq)]
pub struct Difference {
    /// A JSON Pointer; empty for the whole value.
    pub path: String,
    pub expected: Option<Value>,
    pub got: Option<Value>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |value: &Option<Value>| value.as_ref().map_or("nothing".into(), short);
        write!(
            f,
            "{}: expected {}, got {}",
            self.path,
            show(&self.expected),
            show(&self.got)
        )
    }
}

/// Every place where `got` differs from `expected`, deepest first found, in document order.
/// Objects compare member by member (order does not matter), arrays element by element.
pub fn differences(expected: &Value, got: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    walk(String::new(), Some(expected), Some(got), &mut out);
    out
}

fn walk(path: String, expected: Option<&Value>, got: Option<&Value>, out: &mut Vec<Difference>) {
    let child = |key: &str| format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"));
    match (expected, got) {
        (Some(Value::Object(expected)), Some(Value::Object(got))) => {
            for (key, value) in expected {
                walk(child(key), Some(value), got.get(key), out);
            }
            for (key, value) in got.iter().filter(|(key, _)| !expected.contains_key(*key)) {
                walk(child(key), None, Some(value), out);
            }
        }
        (Some(Value::Array(expected)), Some(Value::Array(got))) => {
            for i in 0..expected.len().max(got.len()) {
                walk(child(&i.to_string()), expected.get(i), got.get(i), out);
            }
        }
        (expected, got) if expected != got => out.push(Difference {
            path,
            expected: expected.cloned(),
            got: got.cloned(),
        }),
        _ => {}
    }
}

/// `value` as compact JSON, cut to a readable length.
pub fn short(value: &Value) -> String {
    const MAX: usize = 200;
    let text = value.to_string();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_and_remove_take_dotted_paths_and_pointers() {
        let mut request = json!({"data": {"userProfile": {"email": "a@b"}, "list": [1, 2]}});
        set(&mut request, "data.userProfile.email", json!("c@d")).unwrap();
        set(&mut request, "/data/new~1member/deep", json!(true)).unwrap();
        set(&mut request, "data.list.1", json!(3)).unwrap();
        assert_eq!(
            request,
            json!({"data": {"userProfile": {"email": "c@d"}, "list": [1, 3], "new/member": {"deep": true}}})
        );
        remove(&mut request, "data.list.0").unwrap();
        remove(&mut request, "/data/userProfile/email").unwrap();
        assert_eq!(request["data"]["list"], json!([3]));
        assert_eq!(request["data"]["userProfile"], json!({}));
        assert!(remove(&mut request, "data.userProfile.email").is_err());
        assert!(set(&mut request, "data.list.7", json!(1)).is_err());
        assert!(set(&mut request, "data.list.0.x", json!(1)).is_err());
    }

    #[test]
    fn contains_matches_parts_of_objects_and_arrays_in_order() {
        let body =
            json!({"commands": [{"type": "a", "value": 1}, {"type": "b", "value": 2}], "x": 1});
        assert!(contains(&body, &json!({"commands": [{"type": "b"}]})));
        assert!(contains(
            &body,
            &json!({"commands": [{"type": "a"}, {"value": 2}]})
        ));
        assert!(!contains(
            &body,
            &json!({"commands": [{"type": "b"}, {"type": "a"}]})
        ));
        assert!(!contains(&body, &json!({"y": null})));
        assert!(!contains(&body, &json!({"x": "1"})));
    }

    #[test]
    fn differences_name_each_path_that_differs() {
        let expected = json!({"a": {"b": [1, 2]}, "c": "x"});
        let got = json!({"a": {"b": [1, 3, 4]}, "d": null});
        let lines: Vec<String> = differences(&expected, &got)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "/a/b/1: expected 2, got 3",
                "/a/b/2: expected nothing, got 4",
                "/c: expected \"x\", got nothing",
                "/d: expected nothing, got null",
            ]
        );
        assert!(
            differences(
                &json!({"k": [1, {"z": 1, "y": 2}]}),
                &json!({"k": [1, {"y": 2, "z": 1}]})
            )
            .is_empty()
        );
        assert_eq!(
            differences(&json!(1), &json!("1"))[0].to_string(),
            ": expected 1, got \"1\""
        );
    }
}
