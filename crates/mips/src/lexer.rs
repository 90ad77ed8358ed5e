//! Line-oriented tokenizer for SPIM assembly source.

/// One token of an assembly line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// Identifier: mnemonic, directive (starts with `.`) or label.
    Ident(String),
    /// General-purpose register number 0..=31.
    Reg(u8),
    /// Integer literal (decimal, hexadecimal or character).
    Int(i64),
    /// String literal with escapes already processed.
    Str(Vec<u8>),
    Comma,
    LParen,
    RParen,
    Colon,
    Plus,
    Minus,
}

/// Maps a register name (without the `$`) to its number.
pub(crate) fn register_number(name: &str) -> Option<u8> {
    if let Ok(n) = name.parse::<u8>() {
        return (n < 32 && !name.starts_with('+')).then_some(n);
    }
    let n = match name {
        "zero" => 0,
        "at" => 1,
        "v0" => 2,
        "v1" => 3,
        "a0" => 4,
        "a1" => 5,
        "a2" => 6,
        "a3" => 7,
        "t0" => 8,
        "t1" => 9,
        "t2" => 10,
        "t3" => 11,
        "t4" => 12,
        "t5" => 13,
        "t6" => 14,
        "t7" => 15,
        "s0" => 16,
        "s1" => 17,
        "s2" => 18,
        "s3" => 19,
        "s4" => 20,
        "s5" => 21,
        "s6" => 22,
        "s7" => 23,
        "t8" => 24,
        "t9" => 25,
        "k0" => 26,
        "k1" => 27,
        "gp" => 28,
        "sp" => 29,
        "fp" | "s8" => 30,
        "ra" => 31,
        _ => return None,
    };
    Some(n)
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'.'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'$'
}

/// Reads one escape sequence after a backslash at `bytes[*i]`; advances `*i`.
fn escape(bytes: &[u8], i: &mut usize) -> Result<u8, String> {
    let Some(&c) = bytes.get(*i) else {
        return Err("unterminated escape sequence".into());
    };
    *i += 1;
    Ok(match c {
        b'n' => b'\n',
        b't' => b'\t',
        b'r' => b'\r',
        b'a' => 7,
        b'b' => 8,
        b'f' => 12,
        b'v' => 11,
        b'\\' => b'\\',
        b'"' => b'"',
        b'\'' => b'\'',
        b'0'..=b'7' => {
            let mut v: u32 = u32::from(c - b'0');
            let mut n = 1;
            while n < 3 {
                match bytes.get(*i) {
                    Some(&d @ b'0'..=b'7') => {
                        v = v * 8 + u32::from(d - b'0');
                        *i += 1;
                        n += 1;
                    }
                    _ => break,
                }
            }
            (v & 0xff) as u8
        }
        b'x' => {
            let mut v: u32 = 0;
            let mut n = 0;
            while n < 2 {
                match bytes.get(*i).and_then(|d| (*d as char).to_digit(16)) {
                    Some(d) => {
                        v = v * 16 + d;
                        *i += 1;
                        n += 1;
                    }
                    None => break,
                }
            }
            if n == 0 {
                return Err("bad \\x escape sequence".into());
            }
            v as u8
        }
        other => return Err(format!("unknown escape sequence '\\{}'", other as char)),
    })
}

/// An escape sequence inside a string literal, after the backslash at `bytes[*i - 1]`,
/// exactly as SPIM 8.0's scanner handles it: `\\n`, `\\t` and `\\"` are escapes; a backslash
/// followed by `0`..`3` must start a three-digit octal escape (whose value SPIM computes from
/// the last two digits only); any other backslash is kept as is and the next character is
/// read normally (so `"\\\\"` gives two backslashes, as in SPIM).
fn string_escape(bytes: &[u8], i: &mut usize, out: &mut Vec<u8>) -> Result<(), String> {
    match bytes.get(*i) {
        Some(b'n') => out.push(b'\n'),
        Some(b't') => out.push(b'\t'),
        Some(b'"') => out.push(b'"'),
        Some(b'0'..=b'3') => {
            let digits = bytes.get(*i + 1..*i + 3).unwrap_or(&[]);
            match digits {
                [a @ b'0'..=b'7', b @ b'0'..=b'7'] => {
                    out.push((a - b'0') * 8 + (b - b'0'));
                    *i += 2;
                }
                _ => return Err("bad character in \\ooo construct in string".into()),
            }
        }
        _ => {
            out.push(b'\\');
            return Ok(());
        }
    }
    *i += 1;
    Ok(())
}

/// Splits one source line (without its newline) into tokens, dropping the comment.
pub(crate) fn tokenize(line: &str) -> Result<Vec<Tok>, String> {
    let bytes = line.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'#' => break,
            b' ' | b'\t' | b'\r' | 0x0b | 0x0c => i += 1,
            b',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            b'(' => {
                toks.push(Tok::LParen);
                i += 1;
            }
            b')' => {
                toks.push(Tok::RParen);
                i += 1;
            }
            b':' => {
                toks.push(Tok::Colon);
                i += 1;
            }
            b'+' => {
                toks.push(Tok::Plus);
                i += 1;
            }
            b'-' => {
                toks.push(Tok::Minus);
                i += 1;
            }
            b'"' => {
                // The literal ends at the first quote not preceded by a backslash pair
                // start; escapes are then processed over the raw text, as SPIM does.
                let start = i + 1;
                let mut j = start;
                loop {
                    match bytes.get(j) {
                        None => return Err("unterminated string literal".into()),
                        Some(b'"') => break,
                        Some(b'\\') => j += 2,
                        Some(_) => j += 1,
                    }
                }
                let raw = &bytes[start..j];
                i = j + 1;
                let mut s = Vec::with_capacity(raw.len());
                let mut k = 0;
                while k < raw.len() {
                    if raw[k] == b'\\' {
                        k += 1;
                        string_escape(raw, &mut k, &mut s)?;
                    } else {
                        s.push(raw[k]);
                        k += 1;
                    }
                }
                toks.push(Tok::Str(s));
            }
            b'\'' => {
                i += 1;
                let v = match bytes.get(i) {
                    None => return Err("unterminated character literal".into()),
                    Some(b'\\') => {
                        i += 1;
                        escape(bytes, &mut i)?
                    }
                    Some(&b) => {
                        i += 1;
                        b
                    }
                };
                if bytes.get(i) != Some(&b'\'') {
                    return Err("unterminated character literal".into());
                }
                i += 1;
                toks.push(Tok::Int(i64::from(v)));
            }
            b'$' => {
                let start = i + 1;
                let mut j = start;
                while j < bytes.len() && bytes[j].is_ascii_alphanumeric() {
                    j += 1;
                }
                let name = &line[start..j];
                match register_number(name) {
                    Some(n) => toks.push(Tok::Reg(n)),
                    None if name.starts_with('f') && name[1..].parse::<u8>().is_ok() => {
                        return Err(format!("floating-point register ${name} is not supported"))
                    }
                    None => return Err(format!("unknown register '${name}'")),
                }
                i = j;
            }
            b'0'..=b'9' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let text = &line[start..i];
                let parsed = if let Some(hex) =
                    text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))
                {
                    u64::from_str_radix(hex, 16).ok()
                } else {
                    text.parse::<u64>().ok()
                };
                match parsed {
                    Some(v) if v <= i64::MAX as u64 => toks.push(Tok::Int(v as i64)),
                    Some(_) => return Err(format!("number '{text}' is too large")),
                    None => return Err(format!("malformed number '{text}'")),
                }
            }
            c if is_ident_start(c) => {
                let start = i;
                while i < bytes.len() && is_ident_char(bytes[i]) {
                    i += 1;
                }
                toks.push(Tok::Ident(line[start..i].to_string()));
            }
            _ => {
                let ch = line[i..].chars().next().unwrap_or('?');
                return Err(format!("unexpected character '{ch}'"));
            }
        }
    }
    Ok(toks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_of_a_typical_line() {
        let t = tokenize("loop: lw $t0, -4($sp) # comment, with 'quote").unwrap();
        assert_eq!(
            t,
            vec![
                Tok::Ident("loop".into()),
                Tok::Colon,
                Tok::Ident("lw".into()),
                Tok::Reg(8),
                Tok::Comma,
                Tok::Minus,
                Tok::Int(4),
                Tok::LParen,
                Tok::Reg(29),
                Tok::RParen,
            ]
        );
    }

    #[test]
    fn strings_chars_and_hex() {
        let t = tokenize(r##".asciiz "a\n\"#\\\101\7" 'x' '\n' 0x1F"##).unwrap();
        // SPIM keeps unknown escapes (and `\\`) verbatim and computes octal from 2 digits.
        assert_eq!(t[1], Tok::Str(b"a\n\"#\\\\\x01\\7".to_vec()));
        assert_eq!(t[2], Tok::Int(120));
        assert_eq!(t[3], Tok::Int(10));
        assert_eq!(t[4], Tok::Int(31));
    }

    #[test]
    fn errors() {
        assert!(tokenize("li $t10, 1").is_err());
        assert!(tokenize(".asciiz \"abc").is_err());
        assert_eq!(
            tokenize(r#".asciiz "a\\" "b""#).unwrap()[1],
            Tok::Str(b"a\\\\".to_vec())
        );
        assert!(tokenize("li $t0, 12ab").is_err());
        assert!(tokenize("li $t0, 99999999999999999999999").is_err());
    }
}
