//! Go's `strings.ToUpper`: every character through its *simple* (one to
//! one) uppercase mapping, as Go's `unicode.ToUpper` does, where Rust's
//! `str::to_uppercase` applies the full mappings of Unicode's
//! special casing (`ß` → `SS`).
//!
//! The two agree on every character whose full mapping is a single
//! character. For the 102 whose full mapping is longer, a table
//! holds Go's answer where it is not the character itself; it was made by
//! passing each of them through Go 1.19's `unicode.ToUpper`, and the interop
//! tests check it against a Go kit service.

/// Go's simple uppercase mapping for the characters whose full Unicode
/// mapping is more than one character, where it differs from the
/// character itself; sorted by the first column.
const SIMPLE_UPPER: &[(char, char)] = &[
    ('\u{1F80}', '\u{1F88}'),
    ('\u{1F81}', '\u{1F89}'),
    ('\u{1F82}', '\u{1F8A}'),
    ('\u{1F83}', '\u{1F8B}'),
    ('\u{1F84}', '\u{1F8C}'),
    ('\u{1F85}', '\u{1F8D}'),
    ('\u{1F86}', '\u{1F8E}'),
    ('\u{1F87}', '\u{1F8F}'),
    ('\u{1F90}', '\u{1F98}'),
    ('\u{1F91}', '\u{1F99}'),
    ('\u{1F92}', '\u{1F9A}'),
    ('\u{1F93}', '\u{1F9B}'),
    ('\u{1F94}', '\u{1F9C}'),
    ('\u{1F95}', '\u{1F9D}'),
    ('\u{1F96}', '\u{1F9E}'),
    ('\u{1F97}', '\u{1F9F}'),
    ('\u{1FA0}', '\u{1FA8}'),
    ('\u{1FA1}', '\u{1FA9}'),
    ('\u{1FA2}', '\u{1FAA}'),
    ('\u{1FA3}', '\u{1FAB}'),
    ('\u{1FA4}', '\u{1FAC}'),
    ('\u{1FA5}', '\u{1FAD}'),
    ('\u{1FA6}', '\u{1FAE}'),
    ('\u{1FA7}', '\u{1FAF}'),
    ('\u{1FB3}', '\u{1FBC}'),
    ('\u{1FC3}', '\u{1FCC}'),
    ('\u{1FF3}', '\u{1FFC}'),
];

/// `c` in upper case as Go's `unicode.ToUpper` maps it.
pub fn go_upper_char(c: char) -> char {
    let mut full = c.to_uppercase();
    match (full.next(), full.next()) {
        (Some(one), None) => one,
        _ => SIMPLE_UPPER
            .binary_search_by_key(&c, |&(from, _)| from)
            .map_or(c, |i| SIMPLE_UPPER[i].1),
    }
}

/// `s` in upper case as Go's `strings.ToUpper` makes it: as long in
/// characters as `s`.
///
/// ```
/// use synkit_examples::stringsvc::gocase::go_to_upper;
///
/// assert_eq!(go_to_upper("straße"), "STRAßE");
/// assert_eq!(go_to_upper("ﬁx"), "ﬁX");
/// assert_eq!(go_to_upper("ᾳ"), "ᾼ");
/// assert_eq!(go_to_upper("héllo"), "HÉLLO");
/// ```
pub fn go_to_upper(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_uppercase();
    }
    s.chars().map(go_upper_char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_covers_only_multi_character_mappings() {
        assert!(SIMPLE_UPPER.windows(2).all(|w| w[0].0 < w[1].0));
        for &(from, _) in SIMPLE_UPPER {
            assert!(from.to_uppercase().count() > 1, "{from:?}");
        }
    }

    #[test]
    fn one_character_in_one_character_out() {
        for u in 0..0x11_0000 {
            if let Some(c) = char::from_u32(u) {
                let _ = go_upper_char(c);
            }
        }
        let all: String = (0..0x3000).filter_map(char::from_u32).collect();
        assert_eq!(go_to_upper(&all).chars().count(), all.chars().count());
    }
}
