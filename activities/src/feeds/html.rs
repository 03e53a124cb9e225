//! HTML pages (the MLSys proceedings) as tags, attributes and text, in order: html5ever's
//! tokenizer (the WHATWG tokenizer of Servo) does the reading — unquoted attributes, unclosed
//! `<meta>`, entities, comments, `<script>` bodies holding `<` — and this module keeps only what
//! the page parsers look at, without building a tree and without ever failing: whether a page is
//! the page expected is for its parser to say.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token as Html, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

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

/// Collects the tokenizer's output; the content of `<script>` and `<style>` is dropped.
#[derive(Default)]
struct Collect {
    tokens: RefCell<Vec<Token>>,
    in_raw_text: RefCell<bool>,
}

impl Collect {
    fn text(&self, text: &str) {
        if *self.in_raw_text.borrow() || text.is_empty() {
            return;
        }
        let mut tokens = self.tokens.borrow_mut();
        match tokens.last_mut() {
            Some(Token::Text(last)) => last.push_str(text),
            _ => tokens.push(Token::Text(text.to_owned())),
        }
    }
}

impl TokenSink for Collect {
    type Handle = ();

    fn process_token(&self, token: Html, _line: u64) -> TokenSinkResult<()> {
        match token {
            Html::TagToken(tag) => {
                let name = tag.name.to_string();
                match tag.kind {
                    TagKind::StartTag => {
                        let attrs = tag
                            .attrs
                            .iter()
                            .map(|a| (a.name.local.to_string(), a.value.to_string()))
                            .collect();
                        let raw = match name.as_str() {
                            "script" => Some(RawKind::ScriptData),
                            "style" => Some(RawKind::Rawtext),
                            _ => None,
                        };
                        self.tokens
                            .borrow_mut()
                            .push(Token::Start(Tag { name, attrs }));
                        if let Some(kind) = raw.filter(|_| !tag.self_closing) {
                            *self.in_raw_text.borrow_mut() = true;
                            return TokenSinkResult::RawData(kind);
                        }
                    }
                    TagKind::EndTag => {
                        *self.in_raw_text.borrow_mut() = false;
                        self.tokens.borrow_mut().push(Token::End(name));
                    }
                }
            }
            Html::CharacterTokens(text) => self.text(&text),
            Html::NullCharacterToken => self.text("\u{fffd}"),
            Html::DoctypeToken(_)
            | Html::CommentToken(_)
            | Html::EOFToken
            | Html::ParseError(_) => {}
        }
        TokenSinkResult::Continue
    }
}

/// The page's tags and text, in order.
pub(crate) fn tokenize(html: &str) -> Vec<Token> {
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let tokenizer = Tokenizer::new(Collect::default(), TokenizerOpts::default());
    // Without a tree builder nothing stops the tokenizer (no script runs): it reads to the end.
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink.tokens.take()
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
    // A tag cut off by the end of the page is dropped, as browsers drop it.
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
