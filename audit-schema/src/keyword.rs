//! `keyword_enum!`: every closed vocabulary of the toolkit (ECS categories, types and outcomes,
//! timings, durabilities) declared once as `Variant = "keyword"` pairs, from which the enum, its
//! list of values, its keyword and Rust names, parsing with suggestions, and (with the `serde`
//! feature) serialization are generated. Adding a value is one line.

use std::fmt;

/// Declares a fieldless enum whose variants map one-to-one to keywords.
macro_rules! keyword_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident : $kind:literal, $described:literal {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* #[doc = concat!("`", $text, "`")] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// What this value is, for error messages (`category`, `type`, `durability`, …).
            pub const KIND: &'static str = $kind;

            /// The keyword, as written in JSON lines, attributes and configuration files.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// The variant's name in Rust (`IntrusionDetection`), for code generation.
            pub const fn variant_name(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant),)+ }
            }

            /// A `'static` slice holding just this value (usable in `const` declarations).
            pub const fn as_slice(self) -> &'static [$name] {
                match self { $($name::$variant => &[$name::$variant],)+ }
            }

            /// Parses the keyword (exact, lower case). `None` when there is no such value.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            /// Every keyword, in declaration order.
            pub fn keywords() -> impl Iterator<Item = &'static str> {
                Self::ALL.iter().map(|value| value.as_str())
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::keyword::UnknownValue;
            fn from_str(text: &str) -> Result<Self, $crate::keyword::UnknownValue> {
                Self::parse(text).ok_or_else(|| $crate::keyword::UnknownValue {
                    kind: $kind,
                    described: $described,
                    value: text.to_owned(),
                    expected: Self::keywords().collect(),
                })
            }
        }

        #[cfg(feature = "serde")]
        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str($crate::keyword::KeywordVisitor::<$name>::new())
            }
        }

        #[cfg(feature = "serde")]
        impl $crate::keyword::Keyword for $name {
            fn from_keyword(text: &str) -> Result<Self, $crate::keyword::UnknownValue> {
                text.parse()
            }
        }
    };
}
pub(crate) use keyword_enum;

/// A keyword that names no value of its vocabulary, with the values that exist.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownValue {
    /// What was expected: `category`, `type`, `outcome`, `timing`, `durability`.
    pub kind: &'static str,
    /// The same with its article, as the message reads it: `an ECS event category`.
    pub described: &'static str,
    /// What was given.
    pub value: String,
    /// Every valid keyword.
    pub expected: Vec<&'static str>,
}

impl UnknownValue {
    /// The valid keyword closest to the given one, if it looks like a typo of it.
    pub fn suggestion(&self) -> Option<&'static str> {
        crate::suggest::closest(&self.value, self.expected.iter().copied())
    }
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not {}", self.value, self.described)?;
        if let Some(close) = self.suggestion() {
            write!(f, "; did you mean `{close}`?")?;
        }
        write!(f, " (expected one of: {})", self.expected.join(", "))
    }
}

impl std::error::Error for UnknownValue {}

/// Parsing from a keyword, for the shared serde visitor.
#[cfg(feature = "serde")]
#[doc(hidden)]
pub trait Keyword: Sized {
    fn from_keyword(text: &str) -> Result<Self, UnknownValue>;
}

#[cfg(feature = "serde")]
#[doc(hidden)]
#[derive(Debug)]
pub struct KeywordVisitor<T>(std::marker::PhantomData<T>);

#[cfg(feature = "serde")]
impl<T> KeywordVisitor<T> {
    pub fn new() -> Self {
        KeywordVisitor(std::marker::PhantomData)
    }
}

#[cfg(feature = "serde")]
impl<T> Default for KeywordVisitor<T> {
    fn default() -> Self {
        KeywordVisitor::new()
    }
}

#[cfg(feature = "serde")]
impl<T: Keyword> serde::de::Visitor<'_> for KeywordVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a keyword string")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
        T::from_keyword(text).map_err(E::custom)
    }
}
