// The stylesheet minifier both widget crates' build scripts `include!`: each
// module carries its stylesheet as a string, and comments and indentation are
// bytes every host page downloads.

/// Drops comments, and whitespace where CSS does not need it: runs become
/// one space, and none is kept beside `{ } ; , >` or after `:`. Quoted
/// strings are copied as they are. Spaces around `+`, `-` and `*` stay
/// (`calc()` needs them), and so does the one before `:` (in a selector it
/// is a descendant combinator).
fn minify(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut chars = css.chars().peekable();
    let mut space = false;
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for d in chars.by_ref() {
                    if last == '*' && d == '/' {
                        break;
                    }
                    last = d;
                }
                space = true;
            }
            '"' | '\'' => {
                flush_space(&mut out, &mut space, c);
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            c if c.is_whitespace() => space = true,
            c => {
                flush_space(&mut out, &mut space, c);
                out.push(c);
            }
        }
    }
    out.trim().to_owned()
}

/// Writes the pending space before `next`, unless either side makes it unneeded.
fn flush_space(out: &mut String, space: &mut bool, next: char) {
    const TIGHT: &[char] = &['{', '}', ';', ',', '>'];
    if std::mem::take(space) {
        let after_tight = out.ends_with(TIGHT) || out.ends_with(':') || out.is_empty();
        if !after_tight && !TIGHT.contains(&next) {
            out.push(' ');
        }
    }
}
