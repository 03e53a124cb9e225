//! A forgiving reader of HTML pages (the MLSys proceedings): tags, attributes and text, in order.
//!
//! HTML is not XML: `<meta>` and `<br>` are never closed, attributes may lack quotes or values,
//! and scripts may hold `<`. quick-xml stops at the first of these, so pages are cut into
//! [`Token`]s here instead, without building a tree and without ever failing: whatever is not a
//! tag is text. Whether a page is the page expected is for its parser to say.

/// One piece of an HTML page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// An opening (or self-closing) tag.
    Start(Tag),
    /// A closing tag, its name in lower case.
    End(String),
    /// Text between tags, entities decoded, whitespace as it was.
    Text(String),
}

/// An opening tag: its name in lower case and its attributes (names in lower case, values with
/// entities decoded; an attribute without a value has an empty one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tag {
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
}

impl Tag {
    /// The value of an attribute.
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether the `class` attribute has a class containing `part` (`paper-authors` has
    /// `author`).
    pub(crate) fn has_class_with(&self, part: &str) -> bool {
        self.attr("class")
            .is_some_and(|classes| classes.split_whitespace().any(|c| c.contains(part)))
    }
}

/// Elements whose content is not HTML: read as nothing up to their closing tag.
const RAW_TEXT: [&str; 2] = ["script", "style"];

/// The page's tags and text, in order.
pub(crate) fn tokenize(html: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut rest = html;
    while !rest.is_empty() {
        let Some(lt) = find_markup(rest) else {
            push_text(&mut tokens, rest);
            break;
        };
        push_text(&mut tokens, &rest[..lt]);
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
        } else if rest.starts_with("<!") || rest.starts_with("<?") {
            rest = rest.find('>').map_or("", |end| &rest[end + 1..]);
        } else if let Some(after) = rest.strip_prefix("</") {
            let (name, after) = tag_name(after);
            rest = after.find('>').map_or("", |end| &after[end + 1..]);
            tokens.push(Token::End(name));
        } else {
            let (tag, after) = start_tag(&rest[1..]);
            rest = after;
            if RAW_TEXT.contains(&tag.name.as_str()) {
                let name = tag.name.clone();
                tokens.push(Token::Start(tag));
                rest = skip_raw_text(rest, &name);
                tokens.push(Token::End(name));
            } else {
                tokens.push(Token::Start(tag));
            }
        }
    }
    tokens
}

/// Where the next tag, comment or declaration starts: a `<` followed by a letter, `/`, `!` or
/// `?` (any other `<` is text).
fn find_markup(text: &str) -> Option<usize> {
    text.match_indices('<').map(|(at, _)| at).find(|&at| {
        text[at + 1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?'))
    })
}

fn push_text(tokens: &mut Vec<Token>, raw: &str) {
    if !raw.is_empty() {
        tokens.push(Token::Text(decode_entities(raw)));
    }
}

/// A tag's name (lower case) and what follows it.
fn tag_name(text: &str) -> (String, &str) {
    let end = text
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(text.len());
    (text[..end].to_ascii_lowercase(), &text[end..])
}

/// An opening tag after its `<`: name, attributes, up to and including its `>`.
fn start_tag(text: &str) -> (Tag, &str) {
    let (name, mut rest) = tag_name(text);
    let mut attrs = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            break;
        }
        if let Some(after) = rest.strip_prefix('>') {
            rest = after;
            break;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '=' | '>' | '/'))
            .unwrap_or(rest.len())
            .max(1);
        let key = rest[..end].to_ascii_lowercase();
        rest = rest[end..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (raw, next) = match after.chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    let inner = &after[1..];
                    match inner.find(quote) {
                        Some(close) => (&inner[..close], &inner[close + 1..]),
                        None => (inner, ""),
                    }
                }
                _ => {
                    let stop = after
                        .find(|c: char| c.is_whitespace() || c == '>')
                        .unwrap_or(after.len());
                    (&after[..stop], &after[stop..])
                }
            };
            value = decode_entities(raw);
            rest = next;
        }
        attrs.push((key, value));
    }
    (Tag { name, attrs }, rest)
}

/// What follows the closing tag of a raw-text element (`</script>`, any case).
fn skip_raw_text<'a>(text: &'a str, name: &str) -> &'a str {
    let closing = format!("</{name}");
    let lower = text.to_ascii_lowercase();
    match lower.find(&closing) {
        Some(at) => {
            let after = &text[at..];
            after.find('>').map_or("", |end| &after[end + 1..])
        }
        None => "",
    }
}

/// Character references (`&#39;`, `&#x27;`) and the named entities a page's text is escaped with
/// (`&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&nbsp;`); anything else stays as written.
pub(crate) fn decode_entities(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let reference = rest[1..]
            .find(';')
            .filter(|&end| end <= 32)
            .map(|end| &rest[1..=end]);
        match reference.and_then(resolve) {
            Some(c) => {
                out.push(c);
                rest = &rest[reference.map_or(0, str::len) + 2..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn resolve(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code);
    }
    if name == "nbsp" {
        return Some('\u{a0}');
    }
    quick_xml::escape::resolve_predefined_entity(name).and_then(|s| s.chars().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(name: &str, attrs: &[(&str, &str)]) -> Token {
        Token::Start(Tag {
            name: name.to_owned(),
            attrs: attrs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        })
    }

    fn text(t: &str) -> Token {
        Token::Text(t.to_owned())
    }

    #[test]
    fn tags_attributes_and_text() {
        let tokens = tokenize(
            "<!DOCTYPE html><!-- a <b>comment</b> --><META name=citation_title \
             content='Fast &amp; &quot;Small&quot;'><p class=\"x y\" hidden>a &lt; b &#39;c&#x27;\
             &nbsp;<br/>5 < 6 &unknown; &</P>",
        );
        assert_eq!(
            tokens,
            vec![
                start(
                    "meta",
                    &[("name", "citation_title"), ("content", "Fast & \"Small\"")]
                ),
                start("p", &[("class", "x y"), ("hidden", "")]),
                text("a < b 'c'\u{a0}"),
                start("br", &[]),
                text("5 < 6 &unknown; &"),
                Token::End("p".to_owned()),
            ]
        );
    }

    #[test]
    fn scripts_are_skipped_and_cut_pages_end_quietly() {
        let tokens =
            tokenize("<script>if (a <b) { x = '</p>'; }</SCRIPT><h4>Title</h4><a href=\"/x");
        assert_eq!(
            tokens,
            vec![
                start("script", &[]),
                Token::End("script".to_owned()),
                start("h4", &[]),
                text("Title"),
                Token::End("h4".to_owned()),
                start("a", &[("href", "/x")]),
            ]
        );
        assert_eq!(tokenize(""), vec![]);
        assert_eq!(tokenize("plain"), vec![text("plain")]);
        assert_eq!(tokenize("<!-- open"), vec![]);
    }

    #[test]
    fn class_parts() {
        let Token::Start(tag) = &tokenize("<span class=\"paper-authors small\">")[0] else {
            panic!("a tag");
        };
        assert!(tag.has_class_with("author"));
        assert!(!tag.has_class_with("title"));
        assert_eq!(tag.attr("id"), None);
    }
}
