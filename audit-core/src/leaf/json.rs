//! A writer for one JSON object per line. An ECS audit line has a fixed shape, so it needs no
//! general serializer; and since nearly every string in it needs no escaping, strings are checked
//! with one vectorizable scan and copied whole, which makes formatting several times faster than
//! escaping byte by byte.

use std::fmt::{self, Write as _};

/// A key known at compile time, already quoted and followed by its colon: written in one copy.
#[derive(Clone, Copy)]
pub(crate) struct Key(pub(crate) &'static str);

/// `key!("action")` is the [`Key`] `"action":`.
macro_rules! key {
    ($name:literal) => {
        $crate::leaf::json::Key(concat!("\"", $name, "\":"))
    };
}
pub(crate) use key;

/// An open JSON object; [`JsonObject::end`] closes it.
pub(crate) struct JsonObject<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
    /// The most bytes of a string value written whole (see [`write_limited`]); nested objects
    /// take the same limit.
    limit: usize,
    /// The most values of a list written; the rest are counted in a last `…[N more]`.
    items: usize,
}

/// The end of a string cut at a field's size limit: `…[truncated 1234 bytes]`.
pub(crate) const TRUNCATED: &str = "…[truncated ";

impl<'a> JsonObject<'a> {
    /// Opens an object at the end of `out`, with no limit on string sizes.
    pub(crate) fn begin(out: &'a mut Vec<u8>) -> JsonObject<'a> {
        JsonObject::begin_limited(out, usize::MAX)
    }

    /// Opens an object at the end of `out` whose string values are cut at `limit` bytes, with
    /// a visible marker.
    pub(crate) fn begin_limited(out: &'a mut Vec<u8>, limit: usize) -> JsonObject<'a> {
        out.push(b'{');
        JsonObject { out, empty: true, limit, items: usize::MAX }
    }

    /// Also caps every list of this object (and of nested ones) at `items` values.
    pub(crate) fn with_item_limit(mut self, items: usize) -> JsonObject<'a> {
        self.items = items;
        self
    }

    #[inline]
    fn key(&mut self, key: Key) {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.extend_from_slice(key.0.as_bytes());
    }

    /// A key known only at run time (configured names, labels): escaped.
    fn dynamic_key(&mut self, key: &str) {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        write_limited(self.out, key, self.limit);
        self.out.push(b':');
    }

    /// Fields serialized earlier (`"a":…,"b":…`, without braces), copied in; nothing if empty.
    #[inline]
    pub(crate) fn fields(&mut self, fields: &[u8]) {
        if fields.is_empty() {
            return;
        }
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.extend_from_slice(fields);
    }

    /// `"key":"value"`.
    #[inline]
    pub(crate) fn str(&mut self, key: Key, value: &str) {
        self.key(key);
        write_limited(self.out, value, self.limit);
    }

    /// `"key":"value"` with a key known only at run time.
    pub(crate) fn dynamic_str(&mut self, key: &str, value: &str) {
        self.dynamic_key(key);
        write_limited(self.out, value, self.limit);
    }

    /// `"key":"value"` when there is a value.
    #[inline]
    pub(crate) fn opt_str(&mut self, key: Key, value: Option<&str>) {
        if let Some(value) = value {
            self.str(key, value);
        }
    }

    /// `"key":"<value formatted with Display, escaped>"`, without an intermediate string.
    pub(crate) fn display(&mut self, key: Key, value: impl fmt::Display) {
        self.string_with(key, |text| {
            write!(text, "{value}").expect("writing to a Vec cannot fail");
        });
    }

    /// `"key":"…"` written piece by piece through `write`, each piece escaped, the whole cut at
    /// the object's limit.
    pub(crate) fn string_with(&mut self, key: Key, write: impl FnOnce(&mut StringWriter<'_>)) {
        self.key(key);
        self.out.push(b'"');
        let mut writer = StringWriter { out: self.out, room: self.limit, cut: 0 };
        write(&mut writer);
        let cut = writer.cut;
        if cut > 0 {
            push_marker(self.out, cut);
        }
        self.out.push(b'"');
    }

    /// `"key":"<ASCII that needs no escaping>"`.
    pub(crate) fn ascii(&mut self, key: Key, value: &[u8]) {
        debug_assert!(value.iter().all(|&b| b.is_ascii() && !needs_escape(b)));
        self.key(key);
        self.out.push(b'"');
        self.out.extend_from_slice(value);
        self.out.push(b'"');
    }

    /// `"key":<JSON written by `write`>`: a value this writer has no shape for (it must write
    /// one whole JSON value).
    pub(crate) fn raw_with(&mut self, key: Key, write: impl FnOnce(&mut Vec<u8>)) {
        self.key(key);
        write(self.out);
    }

    /// `"key":123`.
    pub(crate) fn u64(&mut self, key: Key, value: u64) {
        self.key(key);
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = value;
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        self.out.extend_from_slice(&digits[at..]);
    }

    /// `"key":["a","b"]`.
    pub(crate) fn strs<'s>(&mut self, key: Key, values: impl IntoIterator<Item = &'s str>) {
        self.key(key);
        self.out.push(b'[');
        let mut more = 0usize;
        for (i, value) in values.into_iter().enumerate() {
            if i >= self.items {
                more += 1;
                continue;
            }
            if i > 0 {
                self.out.push(b',');
            }
            write_limited(self.out, value, self.limit);
        }
        if more > 0 {
            write!(Raw(self.out), ",\"…[{more} more]\"").expect("writing to a Vec cannot fail");
        }
        self.out.push(b']');
    }

    /// `"key":{…}`: the nested object, to fill and [`end`](JsonObject::end).
    pub(crate) fn object(&mut self, key: Key) -> JsonObject<'_> {
        self.key(key);
        let items = self.items;
        JsonObject::begin_limited(self.out, self.limit).with_item_limit(items)
    }

    /// `"key":{…}` with a key known only at run time.
    pub(crate) fn dynamic_object(&mut self, key: &str) -> JsonObject<'_> {
        self.dynamic_key(key);
        let items = self.items;
        JsonObject::begin_limited(self.out, self.limit).with_item_limit(items)
    }

    /// The most values a list of this object takes.
    pub(crate) fn item_limit(&self) -> usize {
        self.items
    }

    /// Closes the object.
    pub(crate) fn end(self) {
        self.out.push(b'}');
    }

    /// Closes the object with `suffix`: prepared fields starting with `,` and ending with `}`,
    /// after at least one field of this object.
    pub(crate) fn end_with(self, suffix: &[u8]) {
        debug_assert!(!self.empty && suffix.first() == Some(&b',') && suffix.last() == Some(&b'}'));
        self.out.extend_from_slice(suffix);
    }
}

/// The inside of a JSON string being written piece by piece, up to a size limit.
pub(crate) struct StringWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Bytes of text that may still be written whole.
    room: usize,
    /// Bytes cut off past the limit.
    cut: usize,
}

impl StringWriter<'_> {
    /// Appends `piece`, escaped (what lies past the limit is cut and counted).
    pub(crate) fn push(&mut self, piece: &str) {
        if piece.len() <= self.room {
            self.room -= piece.len();
            escape_into(self.out, piece);
            return;
        }
        let kept = floor_char_boundary(piece, self.room);
        escape_into(self.out, &piece[..kept]);
        self.cut += piece.len() - kept;
        self.room = 0;
    }
}

impl fmt::Write for StringWriter<'_> {
    fn write_str(&mut self, fragment: &str) -> fmt::Result {
        self.push(fragment);
        Ok(())
    }
}

/// A JSON string literal of at most `limit` bytes of `value` (cut at a character boundary),
/// followed by `…[truncated N bytes]` when cut: a value is never dropped, and never split
/// into two lines, and its reader sees that it was cut.
pub(crate) fn write_limited(out: &mut Vec<u8>, value: &str, limit: usize) {
    out.push(b'"');
    if value.len() <= limit {
        escape_into(out, value);
    } else {
        let kept = floor_char_boundary(value, limit);
        escape_into(out, &value[..kept]);
        push_marker(out, value.len() - kept);
    }
    out.push(b'"');
}

fn push_marker(out: &mut Vec<u8>, cut: usize) {
    out.extend_from_slice(TRUNCATED.as_bytes());
    write!(Raw(out), "{cut} bytes]").expect("writing to a Vec cannot fail");
}

/// The largest character boundary of `text` at or below `index`.
fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// Whether a byte needs escaping, or may start a character that does: the lead bytes of U+0085
/// (`C2 85`), U+2028 and U+2029 (`E2 80 A8`, `E2 80 A9`). JSON allows those raw, but line
/// splitters that follow Unicode (U+0085 is NEXT LINE; the others are the line and paragraph
/// separators) would break an audit line there.
#[inline]
fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\' || byte == 0xC2 || byte == 0xE2
}

/// Whether any byte of `value` needs escaping, eight bytes at a time (SWAR): a byte below 0x20
/// makes `x - 0x20` borrow into its high bit; a byte equal to `c` is a zero byte of `x ^ c…c`.
#[inline]
fn any_needs_escape(value: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS != 0;
    let word_needs_escape = |x: u64| {
        let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGHS != 0;
        below_space
            || has_zero(x ^ (ONES * u64::from(b'"')))
            || has_zero(x ^ (ONES * u64::from(b'\\')))
            // Only text with non-ASCII bytes pays for these two.
            || (x & HIGHS != 0 && (has_zero(x ^ (ONES * 0xC2)) || has_zero(x ^ (ONES * 0xE2))))
    };
    if value.len() < 8 {
        return value.iter().any(|&b| needs_escape(b));
    }
    let mut chunks = value.chunks_exact(8);
    for chunk in &mut chunks {
        if word_needs_escape(u64::from_le_bytes(chunk.try_into().expect("chunks of 8"))) {
            return true;
        }
    }
    // The last 0 to 7 bytes: the final 8 bytes as one more (overlapping) word.
    !chunks.remainder().is_empty()
        && word_needs_escape(u64::from_le_bytes(value[value.len() - 8..].try_into().expect("8 bytes")))
}

/// Appends `value` escaped for a JSON string (RFC 8259: quotes, backslashes and control
/// characters; and U+0085, U+2028, U+2029, so that no line splitter breaks the line; everything
/// else, UTF-8 included, as is).
fn escape_into(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    if !any_needs_escape(bytes) {
        out.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        if !needs_escape(byte) {
            continue;
        }
        if byte == 0xC2 || byte == 0xE2 {
            let escaped: Option<(&[u8], usize)> = match (byte, bytes.get(i + 1), bytes.get(i + 2)) {
                (0xC2, Some(0x85), _) => Some((b"\\u0085", 2)),
                (0xE2, Some(0x80), Some(0xA8)) => Some((b"\\u2028", 3)),
                (0xE2, Some(0x80), Some(0xA9)) => Some((b"\\u2029", 3)),
                _ => None,
            };
            if let Some((escaped, len)) = escaped {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(escaped);
                start = i + len;
            }
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            control => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(control >> 4)]);
                out.push(HEX[usize::from(control & 0xf)]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// `fmt::Write` that appends as is (numbers).
struct Raw<'a>(&'a mut Vec<u8>);

impl fmt::Write for Raw<'_> {
    fn write_str(&mut self, fragment: &str) -> fmt::Result {
        self.0.extend_from_slice(fragment.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_scan_agrees_with_the_byte_rule_everywhere() {
        // Every byte value at every position of a 17-byte string (two words and a tail).
        for byte in 0..=255u8 {
            for position in 0..17 {
                let mut bytes = vec![b'a'; 17];
                bytes[position] = byte;
                assert_eq!(any_needs_escape(&bytes), needs_escape(byte), "byte {byte:#x} at {position}");
            }
        }
    }

    #[test]
    fn strings_past_the_limit_are_cut_visibly_at_a_character_boundary() {
        let mut out = Vec::new();
        let mut object = JsonObject::begin_limited(&mut out, 10);
        object.str(key!("short"), "fits");
        object.str(key!("long"), "ééééééééé"); // 18 bytes: 5 characters fit
        object.string_with(key!("pieces"), |text| {
            text.push("abcdef");
            text.push("ghijkl");
        });
        object.display(key!("shown"), format_args!("{}", "x".repeat(25)));
        object.end();
        let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed["short"], "fits");
        assert_eq!(parsed["long"], "ééééé…[truncated 8 bytes]");
        assert_eq!(parsed["pieces"], "abcdefghij…[truncated 2 bytes]");
        assert_eq!(parsed["shown"], format!("{}…[truncated 15 bytes]", "x".repeat(10)));
    }

    #[test]
    fn escapes_what_json_requires_and_round_trips() {
        let hostile =
            "quote \" backslash \\ newline \n tab \t cr \r nul \u{0} bell \u{7} esc \u{1b} del \u{7f} é 日本 🦀 \
                       next line \u{85} line sep \u{2028} para sep \u{2029} © \u{2027} \u{202a}";
        let mut out = Vec::new();
        let mut object = JsonObject::begin(&mut out);
        object.str(key!("plain"), "dashboard [id=123]");
        object.str(key!("hostile"), hostile);
        object.display(key!("shown"), format_args!("{} and {}", "a\"b", 42));
        object.u64(key!("n"), 18_446_744_073_709_551_615);
        object.strs(key!("list"), ["x", "y\n"]);
        object.dynamic_str("dyn\\key", "v");
        let mut nested = object.dynamic_object("nested\"key");
        nested.opt_str(key!("absent"), None);
        nested.opt_str(key!("present"), Some("yes"));
        nested.end();
        object.end();
        let text = String::from_utf8(out).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["plain"], "dashboard [id=123]");
        assert_eq!(parsed["hostile"], hostile);
        assert_eq!(parsed["shown"], "a\"b and 42");
        assert_eq!(parsed["n"], 18_446_744_073_709_551_615_u64);
        assert_eq!(parsed["list"], serde_json::json!(["x", "y\n"]));
        assert_eq!(parsed["nested\"key"], serde_json::json!({"present": "yes"}));
        assert_eq!(parsed["dyn\\key"], "v");
        assert!(!text.contains('\n'), "one line");
        // Not even for a splitter that follows Unicode's line breaks.
        assert_eq!(text.lines().count(), 1);
        assert!(!text.contains(['\u{85}', '\u{2028}', '\u{2029}']), "{text}");
        assert!(text.contains("\\u2028") && text.contains("\\u2029") && text.contains("\\u0085"));
        assert!(text.contains('©') && text.contains('\u{2027}'), "other characters stay as they are");
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        /// serde_json's encoding of a string, with the three line-breaking characters escaped as
        /// this writer escapes them (serde_json leaves them raw, which JSON allows).
        fn reference(value: &str) -> String {
            serde_json::to_string(value)
                .unwrap()
                .replace('\u{85}', "\\u0085")
                .replace('\u{2028}', "\\u2028")
                .replace('\u{2029}', "\\u2029")
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

            #[test]
            fn strings_are_escaped_byte_for_byte_like_serde_json(value in "\\PC*|[\\x00-\\x1f\"\\\\\u{85}\u{2028}\u{2029}a-z]{0,40}") {
                let mut out = Vec::new();
                write_limited(&mut out, &value, usize::MAX);
                prop_assert_eq!(String::from_utf8(out).unwrap(), reference(&value));
            }

            #[test]
            fn any_string_round_trips_on_one_line(value in any::<String>()) {
                let mut out = Vec::new();
                let mut object = JsonObject::begin(&mut out);
                object.str(key!("v"), &value);
                object.dynamic_str(&format!("k:{value}"), "k"); // never the key `v`
                object.end();
                let text = String::from_utf8(out).unwrap();
                let breaks = ['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'];
                prop_assert!(!text.contains(breaks), "a line break in {:?}", text);
                let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
                prop_assert_eq!(parsed["v"].as_str(), Some(value.as_str()));
                prop_assert_eq!(parsed[format!("k:{value}").as_str()].as_str(), Some("k"));
            }
        }
    }
}
