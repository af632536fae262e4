//! Redis-compatible glob matching (`KEYS`, `SCAN MATCH`, `CONFIG GET`, `PSUBSCRIBE`).
//!
//! Mirrors the semantics of Redis's `stringmatchlen` byte for byte, including
//! its quirks, so clients see exactly the matches they would get from Redis:
//!
//! * `*` any run of bytes, `?` exactly one byte, `\x` the literal byte `x`;
//! * `[abc]`, `[^abc]`, `[a-z]` (reversed ranges such as `[z-a]` are allowed),
//!   `\` escapes inside a class, and an unterminated class runs to the end of
//!   the pattern;
//! * an empty string is only matched by an empty pattern (Redis's `KEYS *` and
//!   `SCAN` special-case the lone `*` pattern before calling the matcher, so
//!   callers that want "everything" must do the same).
//!
//! Unlike Redis's recursive version, this one is iterative and only ever
//! backtracks to the most recent `*`, so patterns like `a*a*a*a*b` stay linear
//! per star instead of exponential.

/// Returns true if `string` matches the Redis glob `pattern`.
///
/// With `nocase`, ASCII letters compare case-insensitively (as C `tolower`
/// does in the "C" locale); escaped bytes inside `[...]` still compare exactly,
/// as in Redis.
pub(crate) fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    // Redis's main loop never runs for an empty string, so only an empty
    // pattern matches it (even `*` does not).
    if string.is_empty() {
        return pattern.is_empty();
    }
    let mut pi = 0;
    let mut si = 0;
    // Where to resume after a failed attempt: (pattern index after the
    // last star, string index that star's attempt started at).
    let mut resume: Option<(usize, usize)> = None;
    loop {
        // Invariant: si < string.len() here.
        let ok = if pi == pattern.len() {
            false
        } else if pattern[pi] == b'*' {
            while pi + 1 < pattern.len() && pattern[pi + 1] == b'*' {
                pi += 1;
            }
            if pi + 1 == pattern.len() {
                // A trailing star swallows whatever is left.
                return true;
            }
            pi += 1;
            resume = Some((pi, si));
            continue;
        } else {
            let (matched, next) = match_one(pattern, pi, string[si], nocase);
            if matched {
                pi = next;
                si += 1;
                if si == string.len() {
                    while pi < pattern.len() && pattern[pi] == b'*' {
                        pi += 1;
                    }
                    if pi == pattern.len() {
                        return true;
                    }
                    false
                } else {
                    true
                }
            } else {
                false
            }
        };
        if ok {
            continue;
        }
        // Let the last star swallow one more byte; like Redis, the rest of
        // the pattern is never tried against an empty remainder.
        match resume {
            Some((rp, rs)) if rs + 1 < string.len() => {
                resume = Some((rp, rs + 1));
                pi = rp;
                si = rs + 1;
            }
            _ => return false,
        }
    }
}

fn fold(b: u8, nocase: bool) -> u8 {
    if nocase {
        b.to_ascii_lowercase()
    } else {
        b
    }
}

/// Matches the single non-star pattern element at `pi` against byte `c`.
/// Returns whether it matched and the index of the next pattern element.
fn match_one(p: &[u8], mut pi: usize, c: u8, nocase: bool) -> (bool, usize) {
    match p[pi] {
        b'?' => (true, pi + 1),
        b'[' => {
            pi += 1;
            let negate = pi < p.len() && p[pi] == b'^';
            if negate {
                pi += 1;
            }
            let mut matched = false;
            while pi < p.len() {
                if p[pi] == b'\\' && p.len() - pi >= 2 {
                    pi += 1;
                    if p[pi] == c {
                        matched = true;
                    }
                } else if p[pi] == b']' {
                    break;
                } else if p.len() - pi >= 3 && p[pi + 1] == b'-' {
                    let (mut start, mut end) = (p[pi], p[pi + 2]);
                    if start > end {
                        std::mem::swap(&mut start, &mut end);
                    }
                    let (start, end, x) = (fold(start, nocase), fold(end, nocase), fold(c, nocase));
                    if start <= x && x <= end {
                        matched = true;
                    }
                    pi += 2;
                } else if fold(p[pi], nocase) == fold(c, nocase) {
                    matched = true;
                }
                pi += 1;
            }
            // Skip the closing ']'; an unterminated class ends the pattern.
            let next = if pi < p.len() { pi + 1 } else { p.len() };
            (matched != negate, next)
        }
        b'\\' if p.len() - pi >= 2 => (fold(p[pi + 1], nocase) == fold(c, nocase), pi + 2),
        lit => (fold(lit, nocase) == fold(c, nocase), pi + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    fn mi(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), true)
    }

    #[test]
    fn literals_and_wildcards() {
        assert!(m("hello", "hello"));
        assert!(!m("hello", "hellO"));
        assert!(!m("hello", "hell"));
        assert!(!m("hell", "hello"));
        assert!(m("h?llo", "hallo"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("*", "anything"));
        assert!(m("**", "x"));
        assert!(m("a*", "a"));
        assert!(m("a**", "a"));
        assert!(!m("a*?", "a"));
        assert!(m("*b", "aab"));
        assert!(m("*ab", "aab"));
        assert!(!m("*a?", "xa"));
        assert!(m("*a?", "xab"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("*.conf", "redis.conf"));
        assert!(!m("", "a"));
    }

    #[test]
    fn empty_string_quirk() {
        assert!(m("", ""));
        assert!(!m("*", ""));
        assert!(!m("**", ""));
        assert!(!m("?", ""));
    }

    #[test]
    fn classes() {
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        // Reversed range.
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("[z-a]", "q"));
        // A '-' right before ']' forms a range up to ']' (93..=97 here).
        assert!(m("[a-]", "a"));
        assert!(!m("[a-]", "b"));
        assert!(m("[^a-a\\\\]", "b"));
        assert!(!m("[^a-a\\\\]", "\\"));
        // Escapes inside a class.
        assert!(m("[\\]]", "]"));
        assert!(m("[\\-]", "-"));
        // Unterminated class runs to the end of the pattern.
        assert!(m("[a", "a"));
        assert!(m("[ab", "b"));
        assert!(!m("[ab", "ab"));
        assert!(!m("[\\]", "\\"));
        assert!(!m("[", "a"));
        // An unterminated negated empty class matches any byte.
        assert!(m("[^", "a"));
        // An empty class never matches, and the string ran out first.
        assert!(!m("x[]", "x"));
        assert!(!m("[]", "a"));
    }

    #[test]
    fn escapes() {
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("a\\?", "a?"));
        assert!(!m("a\\?", "ab"));
        // A trailing backslash is a literal backslash.
        assert!(m("\\", "\\"));
        assert!(m("a\\\\", "a\\"));
    }

    #[test]
    fn nocase() {
        assert!(mi("HeLLo", "hello"));
        assert!(mi("h[A-Z]llo", "hello"));
        assert!(mi("*READ-ONLY*", "replica-read-only"));
        assert!(mi("[^E]", "x"));
        assert!(!mi("[^E]", "e"));
        // Escaped bytes inside a class compare exactly, as in Redis.
        assert!(!mi("[\\A]", "a"));
        assert!(mi("\\A", "a"));
        assert!(!m("HeLLo", "hello"));
    }

    #[test]
    fn raw_bytes() {
        assert!(glob_match(b"\xff*\x00", b"\xff\x01\x02\x00", false));
        assert!(glob_match(b"[\x80-\xff]", b"\x90", false));
        assert!(!glob_match(b"[\x80-\xff]", b"\x10", false));
    }

    /// Straight recursive transcription of Redis's algorithm, used only as
    /// an oracle for the iterative version.
    fn reference(p: &[u8], s: &[u8], nocase: bool) -> bool {
        let f = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
        let (mut p, mut s) = (p, s);
        while !p.is_empty() && !s.is_empty() {
            match p[0] {
                b'*' => {
                    while p.len() > 1 && p[1] == b'*' {
                        p = &p[1..];
                    }
                    if p.len() == 1 {
                        return true;
                    }
                    while !s.is_empty() {
                        if reference(&p[1..], s, nocase) {
                            return true;
                        }
                        s = &s[1..];
                    }
                    return false;
                }
                b'?' => s = &s[1..],
                b'[' => {
                    p = &p[1..];
                    let not = !p.is_empty() && p[0] == b'^';
                    if not {
                        p = &p[1..];
                    }
                    let mut matched = false;
                    let mut ended = false;
                    loop {
                        if p.is_empty() {
                            ended = true;
                            break;
                        }
                        if p[0] == b'\\' && p.len() >= 2 {
                            p = &p[1..];
                            matched |= p[0] == s[0];
                        } else if p[0] == b']' {
                            break;
                        } else if p.len() >= 3 && p[1] == b'-' {
                            let (a, b) = (p[0].min(p[2]), p[0].max(p[2]));
                            matched |= f(a) <= f(s[0]) && f(s[0]) <= f(b);
                            p = &p[2..];
                        } else {
                            matched |= f(p[0]) == f(s[0]);
                        }
                        p = &p[1..];
                    }
                    if matched == not {
                        return false;
                    }
                    s = &s[1..];
                    if ended {
                        // The element consumed the rest of the pattern.
                        p = &p[..0];
                        if s.is_empty() {
                            break;
                        }
                        continue;
                    }
                }
                b'\\' if p.len() >= 2 => {
                    p = &p[1..];
                    if f(p[0]) != f(s[0]) {
                        return false;
                    }
                    s = &s[1..];
                }
                c => {
                    if f(c) != f(s[0]) {
                        return false;
                    }
                    s = &s[1..];
                }
            }
            p = &p[1..];
            if s.is_empty() {
                while !p.is_empty() && p[0] == b'*' {
                    p = &p[1..];
                }
                break;
            }
        }
        p.is_empty() && s.is_empty()
    }

    #[test]
    fn agrees_with_reference() {
        let palpha = b"ab*?[]^-\\A";
        let salpha = b"abA]-\\^";
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..200_000 {
            let pl = next(8);
            let sl = next(6);
            let p: Vec<u8> = (0..pl).map(|_| palpha[next(palpha.len())]).collect();
            let s: Vec<u8> = (0..sl).map(|_| salpha[next(salpha.len())]).collect();
            for nocase in [false, true] {
                assert_eq!(
                    glob_match(&p, &s, nocase),
                    reference(&p, &s, nocase),
                    "pattern {:?} string {:?} nocase {}",
                    String::from_utf8_lossy(&p),
                    String::from_utf8_lossy(&s),
                    nocase
                );
            }
        }
    }

    #[test]
    fn not_exponential() {
        let s = "a".repeat(10_000);
        let p = "a*a*a*a*a*a*a*a*a*a*a*b";
        let start = std::time::Instant::now();
        assert!(!m(p, &s));
        assert!(m("a*a*a*a*a*a*a*a*a*a*a*", &s));
        assert!(std::time::Instant::now().duration_since(start).as_secs() < 2);
    }
}
