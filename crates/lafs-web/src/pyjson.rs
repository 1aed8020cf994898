//! Python's `json.dumps(x, indent=1)` (Tahoe's `t=json` bodies) and
//! `json.dumps(x)` (stream lines), byte for byte: ASCII-only output with
//! `\uXXXX` escapes, `", "`/`": "` separators, insertion-ordered keys and
//! Python float reprs. Strings and scalars go through
//! `lafs_format::dirnode::python_json`, which already matches Python.

use lafs_format::dirnode::python_json;
use serde_json::Value;

/// `json.dumps(v, indent=1)`.
pub fn dumps_indent1(v: &Value) -> String {
    let mut out = String::new();
    write(&mut out, v, 0);
    out
}

/// `json.dumps(v)` (one line).
pub fn dumps(v: &Value) -> String {
    // Non-finite floats cannot reach here: serde_json values hold none.
    python_json::dumps(v).unwrap_or_else(|| "null".into())
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push(' ');
    }
}

fn write(out: &mut String, v: &Value, depth: usize) {
    match v {
        Value::Array(a) if !a.is_empty() => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write(out, x, depth + 1);
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Object(m) if !m.is_empty() => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                out.push_str(&dumps(&Value::String(k.clone())));
                out.push_str(": ");
                write(out, x, depth + 1);
            }
            newline(out, depth);
            out.push('}');
        }
        scalar => out.push_str(&dumps(scalar)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_python_indent_1() {
        // python3 -c 'import json; print(json.dumps(["dirnode", {"children": {"é": [1, 2.5]}, "e": {}, "l": []}], indent=1))'
        let v = json!(["dirnode", {"children": {"é": [1, 2.5]}, "e": {}, "l": []}]);
        assert_eq!(
            dumps_indent1(&v),
            "[\n \"dirnode\",\n {\n  \"children\": {\n   \"\\u00e9\": [\n    1,\n    2.5\n   ]\n  },\n  \"e\": {},\n  \"l\": []\n }\n]"
        );
        assert_eq!(dumps(&json!({"a": [1, "x"]})), "{\"a\": [1, \"x\"]}");
    }
}
