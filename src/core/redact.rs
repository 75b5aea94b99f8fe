//! Hiding credentials inside URLs before a text goes where others can read it: errors,
//! `Decision.error`, Event notes (readable by anyone who may list Events), logs and reprs.
//!
//! `https://user:token@host/...` keeps its host and path but loses the userinfo, and the values
//! of query parameters that carry credentials (`?access_token=...`) are replaced.

/// What replaces a secret.
pub const REDACTED: &str = "REDACTED";

/// Query parameters whose values are credentials (compared case-insensitively, also as a
/// suffix, so `x_api_key` and `X-Amz-Signature` count).
const SECRET_PARAMS: &[&str] = &[
    "token",
    "password",
    "passwd",
    "secret",
    "key",
    "apikey",
    "auth",
    "authorization",
    "signature",
    "sig",
    "credential",
];

fn is_secret_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|p| lower == *p || lower.ends_with(&format!("_{p}")) || lower.ends_with(&format!("-{p}")))
}

/// Where a URL embedded in text ends.
fn url_end(text: &str) -> usize {
    text.find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | ',')).unwrap_or(text.len())
}

/// Redacts one URL (scheme included).
fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else { return url.to_string() };
    let (scheme, rest) = url.split_at(scheme_end + 3);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => format!("{REDACTED}@{}", &authority[at + 1..]),
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            let params: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if is_secret_param(k) => format!("{k}={REDACTED}"),
                    _ => pair.to_string(),
                })
                .collect();
            let mut out = format!("{path}?{}", params.join("&"));
            if let Some(f) = fragment {
                out.push('#');
                out.push_str(f);
            }
            out
        }
        None => tail.to_string(),
    };
    format!("{scheme}{authority}{tail}")
}

/// `text` with the credentials of every URL in it redacted.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        // The scheme: the letters right before "://".
        let start = rest[..i]
            .char_indices()
            .rev()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |(p, c)| p + c.len_utf8());
        out.push_str(&rest[..start]);
        let url_text = &rest[start..];
        let end = i - start + 3 + url_end(&url_text[i - start + 3..]);
        out.push_str(&redact_url(&url_text[..end]));
        rest = &url_text[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_hidden_host_and_path_kept() {
        assert_eq!(redact("https://user:t0ken@prom.example:9090/api"), "https://REDACTED@prom.example:9090/api");
        assert_eq!(redact("http://t0ken@h/"), "http://REDACTED@h/");
        assert_eq!(redact("http://h:9090/api/v1/query"), "http://h:9090/api/v1/query");
    }

    #[test]
    fn credential_parameters_are_hidden_others_kept() {
        assert_eq!(
            redact("GET http://h/q?query=up&access_token=s3cr3t&time=1 failed"),
            "GET http://h/q?query=up&access_token=REDACTED&time=1 failed"
        );
        assert_eq!(redact("http://h/?X-Amz-Signature=abc#frag"), "http://h/?X-Amz-Signature=REDACTED#frag");
        assert_eq!(redact("http://h/?apikey=abc&token=d"), "http://h/?apikey=REDACTED&token=REDACTED");
    }

    #[test]
    fn urls_inside_error_text() {
        let text = "trigger \"prometheus\": cannot query https://u:p4ss@h/api/v1/query: error sending request for url (https://u:p4ss@h/api/v1/query?query=up&password=p4ss)";
        let out = redact(text);
        assert!(!out.contains("p4ss"), "{out}");
        assert!(out.contains("https://REDACTED@h/api/v1/query?query=up&password=REDACTED)"), "{out}");
        assert_eq!(redact("no url here: a://"), "no url here: a://");
        assert_eq!(redact(""), "");
    }

    #[test]
    fn a_scheme_after_a_multibyte_character() {
        // The character before the scheme is two bytes long: the scheme starts after all of it.
        assert_eq!(redact(r#"not ["¡://"]"#), r#"not ["¡://"]"#);
        assert_eq!(redact("é→https://u:p@h/x"), "é→https://REDACTED@h/x");
    }
}
