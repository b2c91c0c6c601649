//! Field-level diffs of two JSON documents, in the shape Kibana writes as `kibana.diff`:
//! `{"format":"json_patch_extended","ops":[{op, path, value?, oldValue?}],"noOps":[{path}]}`.
//!
//! The operations are RFC 6902 JSON Patch (`add`, `remove`, `replace`) with the old value of what
//! they remove or replace; paths are RFC 6901 JSON Pointers (`~` written `~0`, `/` written
//! `~1`). Objects present on both sides are walked down to the fields that differ; arrays
//! element by element (a longer array gains `add`s at its end, a shorter one loses `remove`s from
//! its end, highest index first), so that applying the operations in order to the old document
//! gives the new one.
//!
//! Written by hand rather than with the `json-patch` crate: that crate's `diff` records no old
//! values, no unchanged fields and no limits, and asking the old document for each operation's
//! old value afterwards doubles the work (BENCHMARKS.md measures this walk against it).

use std::fmt::Write as _;
use std::io;

use serde_json::Value;

/// What a value larger than the size limit is written as, as Kibana writes it.
pub const VALUE_ABOVE_LIMIT: &str = "Value above fieldSizeLimit";

/// The default size limit of one value in a diff: 48 KiB, as Kibana's `fieldSizeLimit`.
pub(crate) const DEFAULT_FIELD_SIZE_LIMIT: usize = 48 << 10;

/// The default number of operations one event carries; the rest are counted.
pub(crate) const DEFAULT_MAX_OPS: usize = 100;

/// One JSON Patch operation of a [`Diff`].
#[derive(Clone, Debug, PartialEq)]
pub struct PatchOp {
    /// `add`, `remove` or `replace`.
    pub op: OpKind,
    /// The JSON Pointer of the field.
    pub path: String,
    /// The new value (`add`, `replace`).
    pub value: Option<Value>,
    /// The old value (`remove`, `replace`).
    pub old_value: Option<Value>,
}

/// The kind of a [`PatchOp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// The field was not there before.
    Add,
    /// The field is gone.
    Remove,
    /// The field holds another value.
    Replace,
}

impl OpKind {
    /// The operation's name in JSON Patch.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Remove => "remove",
            OpKind::Replace => "replace",
        }
    }
}

/// What changed between two documents: the operations, the fields written but unchanged, and
/// how many operations were left out past the cap.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diff {
    /// The operations, in the order they apply.
    pub ops: Vec<PatchOp>,
    /// Paths of fields present and equal on both sides (only when asked for).
    pub no_ops: Vec<String>,
    /// Operations past the cap, not written.
    pub omitted: usize,
}

impl Diff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.omitted == 0
    }

    /// Appends the diff as the JSON object Kibana writes (`omittedOps` only when the cap cut).
    pub(crate) fn write_json(&self, out: &mut Vec<u8>, max_ops: usize, value_limit: usize) {
        out.extend_from_slice(br#"{"format":"json_patch_extended","ops":["#);
        let kept = self.ops.len().min(max_ops);
        for (i, op) in self.ops[..kept].iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(br#"{"op":""#);
            out.extend_from_slice(op.op.as_str().as_bytes());
            out.extend_from_slice(br#"","path":"#);
            write_json_str(out, &op.path);
            if let Some(value) = &op.value {
                out.extend_from_slice(br#","value":"#);
                write_value_limited(out, value, value_limit);
            }
            if let Some(old) = &op.old_value {
                out.extend_from_slice(br#","oldValue":"#);
                write_value_limited(out, old, value_limit);
            }
            out.push(b'}');
        }
        out.extend_from_slice(br#"],"noOps":["#);
        for (i, path) in self.no_ops.iter().take(max_ops).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(br#"{"path":"#);
            write_json_str(out, path);
            out.push(b'}');
        }
        out.push(b']');
        let omitted = self.omitted + (self.ops.len() - kept);
        if omitted > 0 {
            write!(RawText(out), r#","omittedOps":{omitted}"#).expect("writing to a Vec cannot fail");
        }
        out.push(b'}');
    }
}

/// The limits of a diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// A value whose JSON is longer is written as [`VALUE_ABOVE_LIMIT`].
    pub(crate) field_size_limit: usize,
    /// Operations past this many are counted in [`Diff::omitted`], not kept.
    pub(crate) max_ops: usize,
    /// Whether unchanged fields are listed in `noOps`.
    pub(crate) no_ops: bool,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { field_size_limit: DEFAULT_FIELD_SIZE_LIMIT, max_ops: DEFAULT_MAX_OPS, no_ops: false }
    }
}

/// Which values of a diff are not written as they are: secrets (as their HMAC) and fields whose
/// names are always masked (`password`, `api_key`, …: written `[redacted]`).
pub(crate) struct Concealment<'a> {
    /// Secret fields: a name (`password`, at any depth) or a JSON Pointer (`/credentials/key`,
    /// that place and everything below it).
    pub(crate) secret: &'a [&'a str],
    /// Hashes a secret's text (its string, or the JSON of any other value).
    pub(crate) hash: &'a dyn Fn(&str) -> String,
}

impl Concealment<'_> {
    /// Whether the field at `path` (a JSON Pointer) is one of the secret ones, or below one.
    fn is_secret(&self, path: &str) -> bool {
        self.secret.iter().any(|secret| {
            if secret.starts_with('/') {
                path.strip_prefix(*secret).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            } else {
                path.split('/').skip(1).any(|segment| unescape_segment(segment) == *secret)
            }
        })
    }

    /// `value`, found at `path`, as it may be written.
    fn apply(&self, path: &mut String, value: &Value) -> Value {
        // A secret's absence (null) hides nothing: it stays null, so an auditor sees it set.
        if value.is_null() {
            return Value::Null;
        }
        if self.is_secret(path) {
            let text = match value {
                Value::String(text) => (self.hash)(text),
                other => (self.hash)(&other.to_string()),
            };
            return Value::String(text);
        }
        let last = path.rsplit('/').next().unwrap_or("");
        if !last.is_empty() && crate::leaf::secret::is_masked_name(&unescape_segment(last)) {
            return Value::String(crate::leaf::secret::REDACTED.to_owned());
        }
        match value {
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (key, child) in map {
                    let len = path.len();
                    push_segment(path, key);
                    out.insert(key.clone(), self.apply(path, child));
                    path.truncate(len);
                }
                Value::Object(out)
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (index, child) in items.iter().enumerate() {
                    let len = path.len();
                    push_index(path, index);
                    out.push(self.apply(path, child));
                    path.truncate(len);
                }
                Value::Array(out)
            }
            leaf => leaf.clone(),
        }
    }
}

/// The diff from `before` to `after` (`None` is "nothing": `{}`, as Kibana diffs creations and
/// deletions), within `limits`, with `concealment` applied to every value written.
pub(crate) fn diff(
    before: Option<&Value>,
    after: Option<&Value>,
    limits: Limits,
    concealment: &Concealment<'_>,
) -> Diff {
    let empty = Value::Object(serde_json::Map::new());
    let mut walk = Walk { limits, concealment, diff: Diff::default(), path: String::new() };
    walk.walk(before.unwrap_or(&empty), after.unwrap_or(&empty));
    walk.diff
}

struct Walk<'a, 'c> {
    limits: Limits,
    concealment: &'a Concealment<'c>,
    diff: Diff,
    /// The pointer of the place being compared, grown and cut back as the walk goes.
    path: String,
}

impl Walk<'_, '_> {
    fn walk(&mut self, before: &Value, after: &Value) {
        match (before, after) {
            (Value::Object(old), Value::Object(new)) => {
                for (key, old_value) in old {
                    let len = self.path.len();
                    push_segment(&mut self.path, key);
                    match new.get(key) {
                        Some(new_value) => self.walk(old_value, new_value),
                        None => self.op(OpKind::Remove, None, Some(old_value)),
                    }
                    self.path.truncate(len);
                }
                for (key, new_value) in new {
                    if !old.contains_key(key) {
                        let len = self.path.len();
                        push_segment(&mut self.path, key);
                        self.op(OpKind::Add, Some(new_value), None);
                        self.path.truncate(len);
                    }
                }
            }
            (Value::Array(old), Value::Array(new)) => {
                let common = old.len().min(new.len());
                for index in 0..common {
                    let len = self.path.len();
                    push_index(&mut self.path, index);
                    self.walk(&old[index], &new[index]);
                    self.path.truncate(len);
                }
                for (index, added) in new.iter().enumerate().skip(common) {
                    let len = self.path.len();
                    push_index(&mut self.path, index);
                    self.op(OpKind::Add, Some(added), None);
                    self.path.truncate(len);
                }
                // From the end: each removal leaves the indexes of the ones still to come valid.
                for index in (common..old.len()).rev() {
                    let len = self.path.len();
                    push_index(&mut self.path, index);
                    self.op(OpKind::Remove, None, Some(&old[index]));
                    self.path.truncate(len);
                }
            }
            (old, new) if old == new => {
                if self.limits.no_ops && self.diff.no_ops.len() < self.limits.max_ops {
                    self.diff.no_ops.push(self.path.clone());
                }
            }
            (old, new) => self.op(OpKind::Replace, Some(new), Some(old)),
        }
    }

    fn op(&mut self, op: OpKind, value: Option<&Value>, old_value: Option<&Value>) {
        if self.diff.ops.len() >= self.limits.max_ops {
            self.diff.omitted += 1;
            return;
        }
        let value = value.map(|v| self.written(v));
        let old_value = old_value.map(|v| self.written(v));
        self.diff.ops.push(PatchOp { op, path: self.path.clone(), value, old_value });
    }

    /// A value as written: concealed where secret, replaced by the marker when too large.
    fn written(&mut self, value: &Value) -> Value {
        let value = self.concealment.apply(&mut self.path, value);
        if json_len_exceeds(&value, self.limits.field_size_limit) {
            Value::String(VALUE_ABOVE_LIMIT.to_owned())
        } else {
            value
        }
    }
}

/// Appends a JSON Pointer segment for an object key, escaped (`~` as `~0`, `/` as `~1`).
fn push_segment(path: &mut String, key: &str) {
    path.push('/');
    if key.contains(['~', '/']) {
        for c in key.chars() {
            match c {
                '~' => path.push_str("~0"),
                '/' => path.push_str("~1"),
                c => path.push(c),
            }
        }
    } else {
        path.push_str(key);
    }
}

fn push_index(path: &mut String, index: usize) {
    write!(path, "/{index}").expect("writing to a String cannot fail");
}

/// A pointer segment as the key it names.
fn unescape_segment(segment: &str) -> std::borrow::Cow<'_, str> {
    if segment.contains('~') {
        segment.replace("~1", "/").replace("~0", "~").into()
    } else {
        segment.into()
    }
}

/// Whether `value`'s JSON is longer than `limit` bytes (stops counting once it is).
fn json_len_exceeds(value: &Value, limit: usize) -> bool {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
        Value::String(text) if text.len() * 6 + 2 <= limit => false,
        _ => {
            let mut counter = Counter { left: limit };
            serde_json::to_writer(&mut counter, value).is_err()
        }
    }
}

/// Counts bytes written, failing once past its limit.
struct Counter {
    left: usize,
}

impl io::Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.left = self.left.checked_sub(bytes.len()).ok_or_else(|| io::Error::other("over the limit"))?;
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A value's JSON, or the marker when it is longer than `limit` (a line being fitted within its
/// size may ask for less than the diff's own limit).
fn write_value_limited(out: &mut Vec<u8>, value: &Value, limit: usize) {
    let start = out.len();
    serde_json::to_writer(&mut *out, value).expect("writing JSON to a Vec cannot fail");
    if out.len() - start > limit {
        out.truncate(start);
        write_json_str(out, VALUE_ABOVE_LIMIT);
    }
}

fn write_json_str(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(&mut *out, text).expect("writing JSON to a Vec cannot fail");
}

struct RawText<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for RawText<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.0.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plain() -> Concealment<'static> {
        Concealment { secret: &[], hash: &|text| format!("h({text})") }
    }

    fn ops(diff: &Diff) -> Value {
        let mut out = Vec::new();
        diff.write_json(&mut out, usize::MAX, usize::MAX);
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn kibanas_example_in_kibanas_shape() {
        let before = json!({"title": "Sales", "legacy_mode": true, "description": "d"});
        let after = json!({"title": "Sales 2026", "tags": ["q1"], "description": "d"});
        let diff = diff(Some(&before), Some(&after), Limits { no_ops: true, ..Limits::default() }, &plain());
        let mut expected = json!({
            "format": "json_patch_extended",
            "ops": [
                {"op": "replace", "path": "/title", "value": "Sales 2026", "oldValue": "Sales"},
                {"op": "remove", "path": "/legacy_mode", "oldValue": true},
                {"op": "add", "path": "/tags", "value": ["q1"]}
            ],
            "noOps": [{"path": "/description"}]
        });
        // The order of object keys follows the map's (sorted, or as inserted): compare as sets.
        let sort = |v: &mut Value| v["ops"].as_array_mut().unwrap().sort_by_key(|op| op["path"].to_string());
        let mut got = ops(&diff);
        sort(&mut got);
        sort(&mut expected);
        assert_eq!(got, expected);
    }

    #[test]
    fn creations_and_deletions_diff_from_and_to_nothing() {
        let value = json!({"title": "Sales"});
        let created = diff(None, Some(&value), Limits::default(), &plain());
        assert_eq!(ops(&created)["ops"], json!([{"op": "add", "path": "/title", "value": "Sales"}]));
        let deleted = diff(Some(&value), None, Limits::default(), &plain());
        assert_eq!(ops(&deleted)["ops"], json!([{"op": "remove", "path": "/title", "oldValue": "Sales"}]));
    }

    #[test]
    fn pointers_escape_and_arrays_grow_and_shrink_from_their_end() {
        let before = json!({"a/b": 1, "c~d": [1, 2, 3]});
        let after = json!({"a/b": 2, "c~d": [1]});
        let diff = diff(Some(&before), Some(&after), Limits::default(), &plain());
        let paths: Vec<&str> = diff.ops.iter().map(|op| op.path.as_str()).collect();
        assert_eq!(paths, ["/a~1b", "/c~0d/2", "/c~0d/1"]);
    }

    #[test]
    fn secrets_are_hashed_masked_names_redacted_and_large_values_marked() {
        let before = json!({"password": "old", "creds": {"key": "k1"}, "token": "t", "note": "x"});
        let after = json!({"password": "new", "creds": {"key": "k2"}, "token": "u", "note": "y".repeat(100)});
        let hash = |text: &str| format!("hmac({text})");
        let concealment = Concealment { secret: &["password", "/creds"], hash: &hash };
        let limits = Limits { field_size_limit: 50, ..Limits::default() };
        let diff = diff(Some(&before), Some(&after), limits, &concealment);
        let by_path = |p: &str| diff.ops.iter().find(|op| op.path == p).unwrap();
        assert_eq!(by_path("/password").value, Some(json!("hmac(new)")));
        assert_eq!(by_path("/password").old_value, Some(json!("hmac(old)")));
        assert_eq!(by_path("/creds/key").value, Some(json!("hmac(k2)")));
        assert_eq!(by_path("/token").value, Some(json!("[redacted]")));
        assert_eq!(by_path("/note").value, Some(json!(VALUE_ABOVE_LIMIT)));
        assert_eq!(by_path("/note").old_value, Some(json!("x")));
        // A secret inside a value added whole is hashed too.
        let added = super::diff(None, Some(&json!({"creds": {"key": "k"}})), limits, &concealment);
        assert_eq!(added.ops[0].value, Some(json!("hmac({\"key\":\"k\"})")));
        let nested = super::diff(None, Some(&json!({"x": {"password": "p"}})), limits, &concealment);
        assert_eq!(nested.ops[0].value, Some(json!({"password": "hmac(p)"})));
    }

    #[test]
    fn operations_past_the_cap_are_counted() {
        let before = json!({});
        let after: Value = (0..10).map(|i| (format!("f{i}"), json!(i))).collect::<serde_json::Map<_, _>>().into();
        let diff = diff(Some(&before), Some(&after), Limits { max_ops: 4, ..Limits::default() }, &plain());
        assert_eq!((diff.ops.len(), diff.omitted), (4, 6));
        assert_eq!(ops(&diff)["omittedOps"], 6);
    }
}

#[cfg(test)]
mod properties {
    //! For arbitrary pairs of JSON documents, the recorded operations, applied in order by the
    //! `json-patch` crate with each old value checked first (a `test` operation), turn the
    //! document before into the document after.

    use super::*;
    use proptest::prelude::*;

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::from),
            "[a-z~/ ]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map("[a-d~/]{0,3}", inner, 0..5)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    fn as_patch(diff: &Diff) -> json_patch::Patch {
        let mut ops = Vec::new();
        for op in &diff.ops {
            if let Some(old) = &op.old_value {
                ops.push(serde_json::json!({"op": "test", "path": op.path, "value": old}));
            }
            let mut patch = serde_json::json!({"op": op.op.as_str(), "path": op.path});
            if let Some(value) = &op.value {
                patch["value"] = value.clone();
            }
            ops.push(patch);
        }
        serde_json::from_value(Value::Array(ops)).expect("a JSON Patch")
    }

    fn no_secrets() -> Concealment<'static> {
        Concealment { secret: &[], hash: &|text| text.to_owned() }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn applying_the_ops_to_before_gives_after(before in json(), after in json()) {
            let limits = Limits { field_size_limit: usize::MAX, max_ops: usize::MAX, no_ops: true };
            let diff = diff(Some(&before), Some(&after), limits, &no_secrets());
            let mut patched = before.clone();
            json_patch::patch(&mut patched, &as_patch(&diff))
                .map_err(|e| TestCaseError::fail(format!("{e}: {diff:?}")))?;
            prop_assert_eq!(&patched, &after);
            prop_assert_eq!(diff.is_empty(), before == after);
            // Every unchanged path names a value equal on both sides.
            for path in &diff.no_ops {
                prop_assert_eq!(before.pointer(path), after.pointer(path));
            }
        }

        #[test]
        fn the_line_is_kibanas_shape(before in json(), after in json()) {
            let diff = diff(Some(&before), Some(&after), Limits::default(), &no_secrets());
            let mut out = Vec::new();
            diff.write_json(&mut out, usize::MAX, usize::MAX);
            let written: Value = serde_json::from_slice(&out).expect("valid JSON");
            prop_assert_eq!(&written["format"], "json_patch_extended");
            prop_assert!(written["noOps"].is_array());
            for op in written["ops"].as_array().unwrap() {
                let mut keys: Vec<&str> = op.as_object().unwrap().keys().map(String::as_str).collect();
                keys.sort_unstable();
                let mut expected: Vec<&str> = match op["op"].as_str().unwrap() {
                    "add" => vec!["op", "path", "value"],
                    "remove" => vec!["op", "path", "oldValue"],
                    "replace" => vec!["op", "path", "value", "oldValue"],
                    other => panic!("unexpected op {other}"),
                };
                expected.sort_unstable();
                prop_assert_eq!(keys, expected);
            }
        }
    }
}
