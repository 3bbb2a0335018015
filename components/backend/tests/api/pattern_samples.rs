//! Sample strings drawn from a regular expression, for holding the server to what its document
//! allows.

/// Strings that match a regular expression: literals, escapes, classes (negated ones draw from
/// printable ASCII and a few letters beyond), groups, alternation and quantifiers (an unbounded
/// one repeats at most four times). A fixed seed: every run draws the same strings.
pub struct Generator(pub u64);

impl Generator {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }

    pub fn matching(&mut self, pattern: &str) -> String {
        let chars: Vec<char> = pattern.chars().collect();
        let mut at = 0;
        let mut out = String::new();
        self.alternation(&chars, &mut at, &mut out);
        out
    }

    fn alternation(&mut self, p: &[char], at: &mut usize, out: &mut String) {
        let mut branches = vec![*at];
        let mut depth = 0;
        let mut i = *at;
        while i < p.len() {
            match p[i] {
                '\\' => i += 1,
                '[' => {
                    while p[i] != ']' || p[i - 1] == '\\' {
                        i += 1;
                    }
                }
                '(' => depth += 1,
                ')' if depth == 0 => break,
                ')' => depth -= 1,
                '|' if depth == 0 => branches.push(i + 1),
                _ => {}
            }
            i += 1;
        }
        let end = i;
        let mut start = branches[self.next(branches.len())];
        while start < end && p[start] != '|' {
            self.atom(p, &mut start, out);
        }
        *at = end;
    }

    /// One atom with its quantifier; each repetition draws anew.
    fn atom(&mut self, p: &[char], at: &mut usize, out: &mut String) {
        if matches!(p[*at], '^' | '$') {
            *at += 1;
            return;
        }
        let begin = *at;
        let mut first = String::new();
        self.atom_once(p, at, &mut first);
        let (low, high) = self.quantifier(p, at);
        let times = low + self.next(high - low + 1);
        for n in 0..times {
            if n == 0 {
                out.push_str(&first);
            } else {
                let mut again = begin;
                self.atom_once(p, &mut again, out);
            }
        }
    }

    /// One draw of the atom at AT, without its quantifier.
    fn atom_once(&mut self, p: &[char], at: &mut usize, out: &mut String) {
        match p[*at] {
            '(' => {
                *at += 1;
                if p[*at] == '?' {
                    *at += 2;
                }
                self.alternation(p, at, out);
                *at += 1;
            }
            '[' => out.push(self.class(p, at)),
            '\\' => {
                *at += 1;
                out.push(self.escape(p, at));
            }
            c => {
                out.push(c);
                *at += 1;
            }
        }
    }

    fn quantifier(&mut self, p: &[char], at: &mut usize) -> (usize, usize) {
        let bounds = match p.get(*at) {
            Some('?') => (0, 1),
            Some('*') => (0, 4),
            Some('+') => (1, 4),
            Some('{') => {
                let close = p[*at..].iter().position(|c| *c == '}').unwrap() + *at;
                let inner: String = p[*at + 1..close].iter().collect();
                let (low, high) = match inner.split_once(',') {
                    Some((low, high)) => {
                        let low: usize = low.parse().unwrap();
                        (low, high.parse().unwrap_or(low + 4))
                    }
                    None => (inner.parse().unwrap(), inner.parse().unwrap()),
                };
                *at = close;
                (low, high)
            }
            _ => return (1, 1),
        };
        *at += 1;
        bounds
    }

    fn escape(&mut self, p: &[char], at: &mut usize) -> char {
        let c = p[*at];
        *at += 1;
        if c == 'u' {
            let hex: String = p[*at..*at + 4].iter().collect();
            *at += 4;
            return char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap();
        }
        c
    }

    fn class(&mut self, p: &[char], at: &mut usize) -> char {
        *at += 1;
        let negated = p[*at] == '^';
        if negated {
            *at += 1;
        }
        let mut ranges = Vec::new();
        while p[*at] != ']' {
            let low = if p[*at] == '\\' {
                *at += 1;
                self.escape(p, at)
            } else {
                *at += 1;
                p[*at - 1]
            };
            let high = if p[*at] == '-' && p[*at + 1] != ']' {
                *at += 1;
                if p[*at] == '\\' {
                    *at += 1;
                    self.escape(p, at)
                } else {
                    *at += 1;
                    p[*at - 1]
                }
            } else {
                low
            };
            ranges.push((low, high));
        }
        *at += 1;
        if negated {
            let pool: Vec<char> = (' '..='~')
                .chain(['\t', '\n', 'é', 'ß', 'Ж', '中'])
                .collect();
            let allowed: Vec<char> = pool
                .into_iter()
                .filter(|c| !ranges.iter().any(|(l, h)| (l..=h).contains(&c)))
                .collect();
            return allowed[self.next(allowed.len())];
        }
        let (low, high) = ranges[self.next(ranges.len())];
        let span = high as u32 - low as u32 + 1;
        char::from_u32(low as u32 + self.next(span as usize) as u32).unwrap()
    }
}
