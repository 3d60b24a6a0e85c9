//! The little JSON that the iperf3 control protocol needs: a reader for
//! the flat objects a client sends (its test parameters, its results) and
//! a writer for the results object the server sends back.
//!
//! The reader keeps the top-level members of one object; nested arrays
//! and objects are skipped (iperf3's parameters are flat; of a client's
//! results only the presence matters). Bad input is an error, never a
//! panic, and nothing recurses: nesting is bounded by [`MAX_DEPTH`].
//!
//! ```
//! use mnet_apps::iperf3_json::{JsonObject, JsonValue};
//! let o = JsonObject::parse(br#"{"tcp":true,"parallel":2,"len":131072,"client_version":"3.12"}"#).unwrap();
//! assert_eq!(o.get("parallel"), Some(&JsonValue::Int(2)));
//! assert_eq!(o.bool("tcp"), Some(true));
//! assert_eq!(o.str("client_version"), Some("3.12"));
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};

/// Deepest nesting of arrays/objects the reader skips over.
pub const MAX_DEPTH: usize = 32;
/// Most members kept from one object (later ones are an error).
pub const MAX_MEMBERS: usize = 128;

/// A top-level member's value.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue {
    Null,
    Bool(bool),
    /// A number without fraction or exponent that fits an `i64`.
    Int(i64),
    /// Any other number.
    Float(f64),
    Str(String),
    /// An array or object (its content skipped).
    Nested,
}

/// Why a text is not the JSON object we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonError {
    /// The text ended inside a value.
    Truncated,
    /// A byte that cannot start or continue the expected token, at this offset.
    Unexpected(usize),
    /// Nested deeper than [`MAX_DEPTH`] or more than [`MAX_MEMBERS`] members.
    TooBig,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::Truncated => f.write_str("JSON text ends early"),
            JsonError::Unexpected(at) => write!(f, "bad JSON at byte {at}"),
            JsonError::TooBig => f.write_str("JSON nested too deep or too many members"),
        }
    }
}

/// The top-level members of a JSON object, in text order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsonObject {
    pub members: Vec<(String, JsonValue)>,
}

impl JsonObject {
    /// Parse `text`, which must hold one object (and white space around it).
    pub fn parse(text: &[u8]) -> Result<JsonObject, JsonError> {
        let mut r = Reader { text, pos: 0 };
        let mut obj = JsonObject::default();
        r.expect(b'{')?;
        if r.peek_non_ws()? == b'}' {
            r.pos += 1;
        } else {
            loop {
                r.skip_ws();
                let key = r.string()?;
                r.expect(b':')?;
                let value = r.value()?;
                if obj.members.len() >= MAX_MEMBERS {
                    return Err(JsonError::TooBig);
                }
                obj.members.push((key, value));
                match r.next_non_ws()? {
                    b',' => continue,
                    b'}' => break,
                    _ => return Err(JsonError::Unexpected(r.pos - 1)),
                }
            }
        }
        r.skip_ws();
        if r.pos != text.len() {
            return Err(JsonError::Unexpected(r.pos));
        }
        Ok(obj)
    }

    /// The first member called `key`.
    pub fn get(&self, key: &str) -> Option<&JsonValue> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A boolean member; iperf3 also writes flags as numbers (`1`).
    pub fn bool(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            JsonValue::Bool(b) => Some(*b),
            JsonValue::Int(i) => Some(*i != 0),
            _ => None,
        }
    }

    /// An integer member.
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            JsonValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// A string member.
    pub fn str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            JsonValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

struct Reader<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn skip_ws(&mut self) {
        while matches!(self.text.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn peek_non_ws(&mut self) -> Result<u8, JsonError> {
        self.skip_ws();
        self.text.get(self.pos).copied().ok_or(JsonError::Truncated)
    }

    fn next_non_ws(&mut self) -> Result<u8, JsonError> {
        let b = self.peek_non_ws()?;
        self.pos += 1;
        Ok(b)
    }

    fn expect(&mut self, want: u8) -> Result<(), JsonError> {
        if self.next_non_ws()? == want {
            Ok(())
        } else {
            Err(JsonError::Unexpected(self.pos - 1))
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), JsonError> {
        let end = self.pos + word.len();
        match self.text.get(self.pos..end) {
            Some(w) if w == word => {
                self.pos = end;
                Ok(())
            }
            Some(_) => Err(JsonError::Unexpected(self.pos)),
            None => Err(JsonError::Truncated),
        }
    }

    fn value(&mut self) -> Result<JsonValue, JsonError> {
        match self.peek_non_ws()? {
            b'"' => Ok(JsonValue::Str(self.string()?)),
            b't' => self.literal(b"true").map(|()| JsonValue::Bool(true)),
            b'f' => self.literal(b"false").map(|()| JsonValue::Bool(false)),
            b'n' => self.literal(b"null").map(|()| JsonValue::Null),
            b'[' | b'{' => self.skip_nested().map(|()| JsonValue::Nested),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(JsonError::Unexpected(self.pos)),
        }
    }

    /// Skips one array or object, counting brackets (strings may hold any).
    fn skip_nested(&mut self) -> Result<(), JsonError> {
        let mut depth = 0usize;
        loop {
            match self.text.get(self.pos).copied().ok_or(JsonError::Truncated)? {
                b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(JsonError::TooBig);
                    }
                    self.pos += 1;
                }
                b']' | b'}' => {
                    depth = depth.checked_sub(1).ok_or(JsonError::Unexpected(self.pos))?;
                    self.pos += 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                b'"' => {
                    self.string()?;
                }
                _ => self.pos += 1,
            }
        }
    }

    fn number(&mut self) -> Result<JsonValue, JsonError> {
        let start = self.pos;
        let mut integral = true;
        while let Some(&b) = self.text.get(self.pos) {
            match b {
                b'0'..=b'9' | b'-' => {}
                b'+' | b'.' | b'e' | b'E' => integral = false,
                _ => break,
            }
            self.pos += 1;
        }
        let s = core::str::from_utf8(self.text.get(start..self.pos).unwrap_or_default()).map_err(|_| JsonError::Unexpected(start))?;
        if integral && let Ok(i) = s.parse::<i64>() {
            return Ok(JsonValue::Int(i));
        }
        s.parse::<f64>().map(JsonValue::Float).map_err(|_| JsonError::Unexpected(start))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self.text.get(self.pos..self.pos + 4).ok_or(JsonError::Truncated)?;
        let s = core::str::from_utf8(digits).map_err(|_| JsonError::Unexpected(self.pos))?;
        let v = u32::from_str_radix(s, 16).map_err(|_| JsonError::Unexpected(self.pos))?;
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(&b) = self.text.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            let run = self.text.get(start..self.pos).unwrap_or_default();
            out.push_str(core::str::from_utf8(run).map_err(|_| JsonError::Unexpected(start))?);
            match self.text.get(self.pos).copied().ok_or(JsonError::Truncated)? {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    let esc = self.text.get(self.pos + 1).copied().ok_or(JsonError::Truncated)?;
                    self.pos += 2;
                    let c = match esc {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let mut v = self.hex4()?;
                            if (0xD800..0xDC00).contains(&v) && self.text.get(self.pos..self.pos + 2) == Some(b"\\u") {
                                self.pos += 2;
                                let low = self.hex4()?;
                                v = 0x10000 + ((v - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF);
                            }
                            char::from_u32(v).unwrap_or('\u{FFFD}')
                        }
                        _ => return Err(JsonError::Unexpected(self.pos - 1)),
                    };
                    out.push(c);
                }
                _ => return Err(JsonError::Unexpected(self.pos)),
            }
        }
    }
}

/// Writes `s` as a JSON string (quotes and escapes included).
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes a finite `f64` as a JSON number (non-finite values as 0).
pub fn write_f64(out: &mut String, v: f64) {
    if v.is_finite() {
        let _ = write!(out, "{v:.6}");
    } else {
        out.push('0');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn parses_the_parameters_iperf3_3_12_sends() {
        // As `iperf3 -c ... -P 3 -t 1 -R --debug` prints them (send_parameters).
        let text = b"{\n\t\"tcp\":\ttrue,\n\t\"omit\":\t0,\n\t\"time\":\t1,\n\t\"num\":\t0,\n\t\"blockcount\":\t0,\n\t\"parallel\":\t3,\n\t\"reverse\":\ttrue,\n\t\"len\":\t131072,\n\t\"pacing_timer\":\t1000,\n\t\"client_version\":\t\"3.12\"\n}";
        let o = JsonObject::parse(text).unwrap();
        assert_eq!(o.members.len(), 10);
        assert_eq!(o.bool("tcp"), Some(true));
        assert_eq!(o.int("time"), Some(1));
        assert_eq!(o.int("parallel"), Some(3));
        assert_eq!(o.bool("reverse"), Some(true));
        assert_eq!(o.int("len"), Some(131072));
        assert_eq!(o.str("client_version"), Some("3.12"));
        assert_eq!(o.get("udp"), None);
    }

    #[test]
    fn skips_nested_values_and_reads_odd_numbers() {
        let text = br#" {"cpu_util_total": 48.05, "sender_has_retransmits": 18446744073709551615,
            "streams": [{"id": 1, "s": "]}\"{"}, {"id": 3}], "e": -2.5e3, "n": null, "x": false} "#;
        let o = JsonObject::parse(text).unwrap();
        assert_eq!(o.get("cpu_util_total"), Some(&JsonValue::Float(48.05)));
        assert_eq!(o.get("sender_has_retransmits"), Some(&JsonValue::Float(18446744073709551615.0)));
        assert_eq!(o.get("streams"), Some(&JsonValue::Nested));
        assert_eq!(o.get("e"), Some(&JsonValue::Float(-2500.0)));
        assert_eq!(o.get("n"), Some(&JsonValue::Null));
        assert_eq!(o.bool("x"), Some(false));
        assert_eq!(JsonObject::parse(b"{}").unwrap().members.len(), 0);
    }

    #[test]
    fn string_escapes_round_trip() {
        let o = JsonObject::parse(br#"{"t":"a\"b\\c\n\u00e9\ud83d\ude00"}"#).unwrap();
        assert_eq!(o.str("t"), Some("a\"b\\c\n\u{e9}\u{1F600}"));
        let mut s = String::new();
        write_str(&mut s, "a\"b\\c\n\u{1}");
        assert_eq!(s, r#""a\"b\\c\n\u0001""#);
        let back = JsonObject::parse(alloc::format!("{{\"k\":{s}}}").as_bytes()).unwrap();
        assert_eq!(back.str("k"), Some("a\"b\\c\n\u{1}"));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let deep = "[".repeat(MAX_DEPTH + 1);
        let too_deep = alloc::format!("{{\"a\":{deep}}}");
        let many: Vec<_> = (0..=MAX_MEMBERS).map(|i| alloc::format!("\"k{i}\":1")).collect();
        let too_many = alloc::format!("{{{}}}", many.join(","));
        for (text, want) in [
            ("", JsonError::Truncated),
            ("{", JsonError::Truncated),
            ("{\"a\"", JsonError::Truncated),
            ("{\"a\":tru}", JsonError::Unexpected(5)),
            ("{\"a\":1,}", JsonError::Unexpected(7)),
            ("{\"a\":1} x", JsonError::Unexpected(8)),
            ("[1]", JsonError::Unexpected(0)),
            ("{\"a\":\"\\q\"}", JsonError::Unexpected(7)),
            ("{\"a\":1]", JsonError::Unexpected(6)),
            (too_deep.as_str(), JsonError::TooBig),
            (too_many.as_str(), JsonError::TooBig),
        ] {
            assert_eq!(JsonObject::parse(text.as_bytes()), Err(want), "{text:?}");
        }
        // Every prefix of a valid object fails cleanly.
        let good = br#"{"a":[1,{"b":"c"}],"d":-1.5,"e":"\u0041"}"#;
        for i in 0..good.len() {
            assert!(JsonObject::parse(&good[..i]).is_err(), "{i}");
        }
        assert!(JsonObject::parse(good).is_ok());
        assert_eq!(JsonError::Truncated.to_string(), "JSON text ends early");
    }

    #[test]
    fn numbers_are_written_plainly() {
        let mut s = String::new();
        write_f64(&mut s, 1.5);
        s.push(',');
        write_f64(&mut s, f64::NAN);
        assert_eq!(s, "1.500000,0");
    }
}
