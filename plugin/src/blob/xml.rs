//! Just enough XML for the Blob service's answers (List Blobs, Get Block List, errors):
//! elements found by name, text unescaped. The service's XML has no attributes we need,
//! no CDATA and no namespaces on these elements.

use std::borrow::Cow;

/// The text of each `<tag>...</tag>` inside `xml`, in order (not nested in itself).
pub fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let open_attr = format!("<{tag} ");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < xml.len() {
        let a = xml[pos..].find(&open).map(|i| (i, open.len()));
        let b = xml[pos..].find(&open_attr).and_then(|i| {
            // `<Tag attr="...">`: the content starts after the next `>`.
            xml[pos + i..].find('>').map(|j| (i, j + 1))
        });
        let (start, skip) = match (a, b) {
            (Some(x), Some(y)) => {
                if x.0 <= y.0 {
                    x
                } else {
                    y
                }
            }
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => break,
        };
        let content = pos + start + skip;
        // A self-closed `<Tag ... />` has no content.
        if xml[..content].ends_with("/>") {
            pos = content;
            continue;
        }
        let Some(end) = xml[content..].find(&close) else {
            break;
        };
        out.push(&xml[content..content + end]);
        pos = content + end + close.len();
    }
    out
}

/// The text of the first `<tag>` in `xml`.
pub fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    elements(xml, tag).into_iter().next()
}

/// Undoes the five XML entities and numeric character references.
pub fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let ent = &rest[1..end];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ if ent.starts_with("#x") => u32::from_str_radix(&ent[2..], 16)
                .ok()
                .and_then(char::from_u32),
            _ if ent.starts_with('#') => ent[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_elements_and_unescapes() {
        let x = r#"<?xml version="1.0"?><EnumerationResults ServiceEndpoint="x"><Blobs><Blob><Name>a&amp;b/PT1H.json</Name><Properties><Etag>"0x1"</Etag></Properties></Blob><BlobPrefix><Name>y=2026/</Name></BlobPrefix></Blobs><NextMarker /></EnumerationResults>"#;
        let blobs = elements(x, "Blob");
        assert_eq!(blobs.len(), 1);
        assert_eq!(
            unescape(element(blobs[0], "Name").unwrap()),
            "a&b/PT1H.json"
        );
        assert_eq!(elements(x, "BlobPrefix").len(), 1);
        assert_eq!(element(x, "NextMarker"), None);
        assert_eq!(
            element(x, "EnumerationResults").map(|s| s.len() > 10),
            Some(true)
        );
        assert_eq!(unescape("&#x41;&#66;&bogus; &"), "AB&bogus; &");
    }
}
