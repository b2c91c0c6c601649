//! The units settings are written in: sizes with Kibana's binary units ([`ByteSize`]: `100mb`
//! is 100 × 1024² bytes) and durations in the usual human grammar ([`Interval`]: `24h`,
//! `1h30m`, `90s`, `500ms`).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A size in bytes: an integer, or a string with Kibana's binary units `b`, `kb`, `mb`, `gb`
/// (`"512kb"` is 524,288 bytes). Never zero.
///
/// ```
/// use audit_core::config::ByteSize;
/// assert_eq!("100mb".parse::<ByteSize>().unwrap().bytes(), 100 << 20);
/// assert!("10 parsecs".parse::<ByteSize>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(u64);

impl ByteSize {
    /// `bytes` bytes; `None` for zero.
    pub fn new(bytes: u64) -> Option<ByteSize> {
        (bytes > 0).then_some(ByteSize(bytes))
    }

    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl std::str::FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<ByteSize, String> {
        let lower = text.trim().to_ascii_lowercase();
        let (digits, unit) = lower.split_at(lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len()));
        let value: u64 = digits.parse().map_err(|_| format!("`{text}` is not a size like `100mb`"))?;
        let scale = match unit.trim() {
            "" | "b" => 1,
            "kb" | "k" => 1 << 10,
            "mb" | "m" => 1 << 20,
            "gb" | "g" => 1 << 30,
            _ => return Err(format!("`{text}`: the unit of a size is b, kb, mb or gb (powers of 1024)")),
        };
        value.checked_mul(scale).and_then(ByteSize::new).ok_or_else(|| format!("`{text}` is not a usable size"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}b", self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ByteSize, D::Error> {
        struct SizeVisitor;
        impl Visitor<'_> for SizeVisitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size: bytes, or a string like `100mb`")
            }
            fn visit_u64<E: de::Error>(self, bytes: u64) -> Result<ByteSize, E> {
                ByteSize::new(bytes).ok_or_else(|| E::custom("a size of 0 bytes is not usable"))
            }
            fn visit_i64<E: de::Error>(self, bytes: i64) -> Result<ByteSize, E> {
                u64::try_from(bytes)
                    .ok()
                    .and_then(ByteSize::new)
                    .ok_or_else(|| E::custom(format!("{bytes} is not a usable size")))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<ByteSize, E> {
                text.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(SizeVisitor)
    }
}

/// A duration in the usual human grammar: a number and a unit, repeated (`24h`, `1h30m`, `90s`,
/// `500ms`, `7days`). Never zero.
///
/// ```
/// use std::time::Duration;
/// use audit_core::config::Interval;
/// assert_eq!("1h30m".parse::<Interval>().unwrap().duration(), Duration::from_secs(5400));
/// assert!("0h".parse::<Interval>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval(Duration);

impl Interval {
    /// `duration`; `None` for zero.
    pub fn new(duration: Duration) -> Option<Interval> {
        (!duration.is_zero()).then_some(Interval(duration))
    }

    /// The duration.
    pub fn duration(self) -> Duration {
        self.0
    }
}

impl std::str::FromStr for Interval {
    type Err = String;

    fn from_str(text: &str) -> Result<Interval, String> {
        let duration = humantime::parse_duration(text.trim())
            .map_err(|e| format!("`{text}` is not a duration like `24h` or `1h30m` ({e})"))?;
        Interval::new(duration).ok_or_else(|| format!("`{text}` is not a usable duration"))
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Interval, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units() {
        for (text, bytes) in
            [("512kb", 512 << 10), ("100mb", 100 << 20), ("1gb", 1 << 30), ("4096", 4096), ("2 MB", 2 << 20)]
        {
            assert_eq!(text.parse::<ByteSize>().map(ByteSize::bytes), Ok(bytes), "{text}");
        }
        for text in ["", "0", "0mb", "10 parsecs", "mb", "99999999999999gb"] {
            assert!(text.parse::<ByteSize>().is_err(), "{text}");
        }
    }

    #[test]
    fn durations_use_the_human_grammar() {
        for (text, secs) in
            [("24h", 86_400), ("1h30m", 5_400), ("1h 30m", 5_400), ("15m", 900), ("7d", 604_800), ("90s", 90)]
        {
            assert_eq!(text.parse::<Interval>().map(Interval::duration), Ok(Duration::from_secs(secs)), "{text}");
        }
        assert_eq!("500ms".parse::<Interval>().unwrap().duration(), Duration::from_millis(500));
        for text in ["", "0h", "24", "tomorrow", "-1h"] {
            assert!(text.parse::<Interval>().is_err(), "{text}");
        }
    }
}
