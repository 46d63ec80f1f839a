//! Byte scanning for topic parsing, cheaper than `str::find` with a string pattern (whose
//! searcher set-up costs more than the short topics it searches).

/// Index of the first occurrence of `needle` in `hay`.
pub(crate) fn find(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let (&first, rest) = n.split_first()?;
    let mut at = 0;
    while at + n.len() <= h.len() {
        let off = h[at..=h.len() - n.len()].iter().position(|&b| b == first)?;
        at += off;
        // The second byte first: most candidates fail there, without a `memcmp` call.
        if rest.is_empty() || (h.get(at + 1) == rest.first() && h[at + 1..].starts_with(rest)) {
            return Some(at);
        }
        at += 1;
    }
    None
}

/// `hay` split around the first `needle`, like `str::split_once`.
pub(crate) fn split_once<'a>(hay: &'a str, needle: &str) -> Option<(&'a str, &'a str)> {
    let at = find(hay, needle)?;
    // `at` and `at + needle.len()` are char boundaries: the needle is valid UTF-8 and matched.
    Some((hay.get(..at)?, hay.get(at + needle.len()..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_vectors() {
        assert_eq!(
            find("devices/d/messages/devicebound/x", "/messages/devicebound/"),
            Some(9)
        );
        assert_eq!(find("abc", "abc"), Some(0));
        assert_eq!(find("ab", "abc"), None);
        assert_eq!(find("aab", "ab"), Some(1));
        assert_eq!(find("", "a"), None);
        assert_eq!(find("a", ""), None);
        assert_eq!(find("x/?y/?z", "/?"), Some(1));
        assert_eq!(
            split_once("led/?$rid=1/?$rid=2", "/?$rid="),
            Some(("led", "1/?$rid=2"))
        );
        assert_eq!(find("é/?x", "/?"), Some(2));
        for (h, n) in [
            ("a/b/c", "/c"),
            ("////", "//"),
            ("é", "é"),
            ("xyz", "z"),
            ("xyz", "y"),
            ("a/b/c/", "/"),
            ("ab/?c/?", "/?"),
        ] {
            assert_eq!(find(h, n), h.find(n), "{h} {n}");
        }
    }
}
