//! A small synchronous client for the few Blob service REST calls nsgflow needs: List
//! Blobs, Get Block List, ranged Get Blob (and, for tests and tools, Create Container, Put
//! Block and Put Block List). Every call is signed ([`super::auth`]), retried
//! ([`super::retry`]) and counted ([`Counters`]). Errors name the call and the blob, never
//! a secret: the SAS is not part of any message.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use super::auth::{shared_key_authorization, Auth, Credentials, ToSign};
pub use super::blocks::BlockInfo;
use super::retry::{retryable_status, RetryPolicy};
use super::xml::{element, elements, unescape};

/// The REST API version sent with every request.
pub const API_VERSION: &str = "2021-12-02";

/// What the client has done, for the summary and the efficiency figure.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests sent, retries included.
    pub requests: AtomicU64,
    /// Retries after a throttle, server error, timeout or broken connection.
    pub retries: AtomicU64,
    /// Body bytes of ranged Get Blob answers: the blob data downloaded.
    pub range_bytes: AtomicU64,
    /// Body bytes of listing and block-list answers.
    pub metadata_bytes: AtomicU64,
}

impl Counters {
    pub fn get(v: &AtomicU64) -> u64 {
        v.load(Ordering::Relaxed)
    }
}

/// One blob from a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobItem {
    pub name: String,
    /// Without quotes (see [`bare_etag`]).
    pub etag: String,
    pub size: u64,
}

/// A listing page set: blobs and, with a delimiter, the "folders" under the prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub blobs: Vec<BlobItem>,
    pub prefixes: Vec<String>,
}

/// A blob's committed block list and the etag of the version it describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockList {
    pub etag: String,
    pub blocks: Vec<BlockInfo>,
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobError {
    /// 404: the container or blob does not exist (any more).
    NotFound(String),
    /// 412: the blob changed since its block list was read (If-Match failed).
    Changed(String),
    /// Any other answer, or no answer after every retry: what to tell the user.
    Failed(String),
}

impl std::fmt::Display for BlobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlobError::NotFound(m) | BlobError::Changed(m) | BlobError::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for BlobError {}

/// The client. Cheap to share between threads (`&BlobClient`).
pub struct BlobClient {
    agent: ureq::Agent,
    creds: Credentials,
    /// The endpoint's own path (`/devstoreaccount1` for the emulator, empty for Azure).
    base_path: String,
    retry: RetryPolicy,
    pub counters: Arc<Counters>,
}

struct Answer {
    status: u16,
    etag: Option<String>,
    body: Vec<u8>,
}

impl BlobClient {
    pub fn new(creds: Credentials, retry: RetryPolicy, timeout: Duration) -> BlobClient {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("nsgflow/", env!("CARGO_PKG_VERSION")))
            .build();
        let after_scheme = creds
            .endpoint
            .split_once("://")
            .map_or(creds.endpoint.as_str(), |(_, r)| r);
        let base_path = after_scheme.find('/').map_or(String::new(), |i| {
            after_scheme[i..].trim_end_matches('/').to_string()
        });
        BlobClient {
            agent: ureq::Agent::new_with_config(config),
            creds,
            base_path,
            retry,
            counters: Arc::new(Counters::default()),
        }
    }

    pub fn account(&self) -> &str {
        &self.creds.account
    }

    /// Lists blobs under `prefix` (all pages). With `delimiter` `/`, names below the next
    /// `/` are folded into `prefixes`, one per "folder".
    pub fn list(
        &self,
        container: &str,
        prefix: &str,
        delimiter: Option<&str>,
    ) -> Result<Listing, BlobError> {
        let mut out = Listing::default();
        let mut marker = String::new();
        // Bounded: 10,000 pages of 5,000 names is more than any flow-log hour holds.
        for _ in 0..10_000 {
            let mut q: Vec<(&str, &str)> = vec![("restype", "container"), ("comp", "list")];
            if !prefix.is_empty() {
                q.push(("prefix", prefix));
            }
            if let Some(d) = delimiter {
                q.push(("delimiter", d));
            }
            if !marker.is_empty() {
                q.push(("marker", &marker));
            }
            let what = format!("List Blobs in {container} under `{prefix}`");
            let a = self.send("GET", container, None, &q, &[], None, &what)?;
            self.counters
                .metadata_bytes
                .fetch_add(a.body.len() as u64, Ordering::Relaxed);
            let xml = String::from_utf8_lossy(&a.body);
            for b in elements(&xml, "Blob") {
                let name = element(b, "Name").map(unescape).unwrap_or_default();
                let etag = element(b, "Etag").map(unescape).unwrap_or_default();
                let size = element(b, "Content-Length")
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0);
                out.blobs.push(BlobItem {
                    name: name.into_owned(),
                    etag: bare_etag(&etag),
                    size,
                });
            }
            for p in elements(&xml, "BlobPrefix") {
                if let Some(n) = element(p, "Name") {
                    out.prefixes.push(unescape(n).into_owned());
                }
            }
            match element(&xml, "NextMarker").map(|m| unescape(m.trim()).into_owned()) {
                Some(m) if !m.is_empty() => marker = m,
                _ => return Ok(out),
            }
        }
        Ok(out)
    }

    /// The committed block list of a blob and the etag of that version.
    pub fn block_list(&self, container: &str, blob: &str) -> Result<BlockList, BlobError> {
        let q = [("comp", "blocklist"), ("blocklisttype", "committed")];
        let what = format!("Get Block List of {container}/{blob}");
        let a = self.send("GET", container, Some(blob), &q, &[], None, &what)?;
        self.counters
            .metadata_bytes
            .fetch_add(a.body.len() as u64, Ordering::Relaxed);
        let xml = String::from_utf8_lossy(&a.body);
        let committed = element(&xml, "CommittedBlocks").unwrap_or("");
        let mut blocks = Vec::new();
        for b in elements(committed, "Block") {
            let id = element(b, "Name").map(unescape).unwrap_or_default();
            let size = element(b, "Size").and_then(|s| s.trim().parse().ok());
            let Some(size) = size else {
                return Err(BlobError::Failed(format!(
                    "{what}: a block without a size in the answer (not a Blob service answer?)"
                )));
            };
            blocks.push(BlockInfo {
                id: id.into_owned(),
                size,
            });
        }
        Ok(BlockList {
            etag: a.etag.as_deref().map(bare_etag).unwrap_or_default(),
            blocks,
        })
    }

    /// Bytes `start..end` of the blob version with etag `etag` (fails with
    /// [`BlobError::Changed`] if the blob was committed again meanwhile).
    pub fn get_range(
        &self,
        container: &str,
        blob: &str,
        start: u64,
        end: u64,
        etag: &str,
    ) -> Result<Vec<u8>, BlobError> {
        if end <= start {
            return Ok(Vec::new());
        }
        let range = format!("bytes={start}-{}", end - 1);
        let quoted = format!("\"{etag}\"");
        let mut h: Vec<(&str, &str)> = vec![("x-ms-range", &range)];
        if !etag.is_empty() {
            h.push(("if-match", &quoted));
        }
        let what = format!("Get Blob {container}/{blob} bytes {start}..{end}");
        let a = self.send("GET", container, Some(blob), &[], &h, None, &what)?;
        self.counters
            .range_bytes
            .fetch_add(a.body.len() as u64, Ordering::Relaxed);
        if a.body.len() as u64 != end - start {
            return Err(BlobError::Failed(format!(
                "{what}: got {} bytes instead of {}",
                a.body.len(),
                end - start
            )));
        }
        Ok(a.body)
    }

    /// Creates a container (an existing one is fine).
    pub fn create_container(&self, container: &str) -> Result<(), BlobError> {
        let q = [("restype", "container")];
        let what = format!("Create Container {container}");
        match self.send("PUT", container, None, &q, &[], Some(&[]), &what) {
            Ok(_) => Ok(()),
            Err(BlobError::Failed(m)) if m.contains("ContainerAlreadyExists") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Uploads an uncommitted block (`id` is the raw ID; it is base64-encoded here).
    pub fn put_block(
        &self,
        container: &str,
        blob: &str,
        id: &str,
        data: &[u8],
    ) -> Result<(), BlobError> {
        let id = B64.encode(id);
        let q = [("comp", "block"), ("blockid", id.as_str())];
        let what = format!("Put Block {container}/{blob}");
        self.send("PUT", container, Some(blob), &q, &[], Some(data), &what)
            .map(|_| ())
    }

    /// Commits a block list (raw IDs, in order): the blob becomes those blocks.
    pub fn put_block_list(
        &self,
        container: &str,
        blob: &str,
        ids: &[&str],
    ) -> Result<(), BlobError> {
        let mut body = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
        for id in ids {
            body.push_str("<Latest>");
            body.push_str(&B64.encode(id));
            body.push_str("</Latest>");
        }
        body.push_str("</BlockList>");
        let q = [("comp", "blocklist")];
        let what = format!("Put Block List {container}/{blob}");
        self.send(
            "PUT",
            container,
            Some(blob),
            &q,
            &[],
            Some(body.as_bytes()),
            &what,
        )
        .map(|_| ())
    }

    /// Sends one request with retries; a 2xx answer is returned, anything else is an error.
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        method: &str,
        container: &str,
        blob: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        what: &str,
    ) -> Result<Answer, BlobError> {
        let mut path = format!("{}/{}", self.base_path, encode_path(container));
        if let Some(b) = blob {
            path.push('/');
            path.push_str(&encode_path(b));
        }
        let mut url = format!(
            "{}{}",
            self.creds.endpoint.trim_end_matches(&*self.base_path),
            path
        );
        let mut sep = '?';
        for (k, v) in query {
            url.push(sep);
            url.push_str(k);
            url.push('=');
            url.push_str(&encode_query(v));
            sep = '&';
        }
        if let Auth::Sas(sas) = &self.creds.auth {
            url.push(sep);
            url.push_str(sas);
        }
        let mut attempt = 0u32;
        loop {
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let (retry_after, why) = match self.attempt(method, &url, &path, query, headers, body) {
                Ok(a) if (200..300).contains(&a.status) => return Ok(a),
                Ok(a) => {
                    let (code, message) = service_error(&a.body);
                    let detail = format!("{what}: HTTP {} {code}{message}", a.status);
                    match a.status {
                        404 => return Err(BlobError::NotFound(detail)),
                        412 => return Err(BlobError::Changed(detail)),
                        403 => {
                            return Err(BlobError::Failed(format!(
                                "{detail} (check the account key or SAS token: it needs Read and List permission on the container and must not be expired; and that this machine's clock is right)"
                            )))
                        }
                        s if retryable_status(s) => (None, detail),
                        _ => return Err(BlobError::Failed(detail)),
                    }
                }
                Err(Transient(after, why)) => (after, format!("{what}: {why}")),
                Err(Fatal(why)) => return Err(BlobError::Failed(format!("{what}: {why}"))),
            };
            attempt += 1;
            if attempt > self.retry.retries {
                return Err(BlobError::Failed(format!(
                    "{why} (gave up after {} retries; is the endpoint {} reachable?)",
                    self.retry.retries, self.creds.endpoint
                )));
            }
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(self.retry.delay(attempt, retry_after));
        }
    }

    fn attempt(
        &self,
        method: &str,
        url: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Answer, AttemptError> {
        let date = httpdate::fmt_http_date(SystemTime::now());
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        all.push(("x-ms-date", &date));
        all.push(("x-ms-version", API_VERSION));
        let auth = match &self.creds.auth {
            Auth::SharedKey { account, key } => Some(shared_key_authorization(
                account,
                key,
                &ToSign {
                    method,
                    path,
                    query,
                    headers: &all,
                    content_length: body.map_or(0, |b| b.len() as u64),
                },
            )),
            Auth::Sas(_) => None,
        };
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in &all {
            req = req.header(*k, *v);
        }
        if let Some(a) = &auth {
            req = req.header("authorization", a.as_str());
        }
        let result = match body {
            Some(b) => {
                let req = req
                    .header("content-length", b.len().to_string())
                    .body(b.to_vec())
                    .map_err(|e| Fatal(format!("cannot build the request: {e}")))?;
                self.agent.run(req)
            }
            None => {
                let req = req
                    .body(())
                    .map_err(|e| Fatal(format!("cannot build the request: {e}")))?;
                self.agent.run(req)
            }
        };
        let mut resp = result.map_err(|e| self.classify(e))?;
        let status = resp.status().as_u16();
        let etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut data = Vec::new();
        resp.body_mut()
            .as_reader()
            .read_to_end(&mut data)
            .map_err(|e| {
                Transient(
                    None,
                    format!("reading the answer: {}", self.redact(&e.to_string())),
                )
            })?;
        if retryable_status(status) {
            if let Some(after) = retry_after {
                // Hand Retry-After up through a transient error so the delay honours it.
                let (code, message) = service_error(&data);
                return Err(Transient(
                    Some(after),
                    format!("HTTP {status} {code}{message}"),
                ));
            }
        }
        Ok(Answer {
            status,
            etag,
            body: data,
        })
    }

    fn classify(&self, e: ureq::Error) -> AttemptError {
        let msg = self.redact(&e.to_string());
        match e {
            ureq::Error::Timeout(_) => Transient(None, format!("timed out ({msg})")),
            ureq::Error::Io(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::BodyStalled => Transient(None, format!("connection failed ({msg})")),
            _ => Fatal(msg),
        }
    }

    /// Takes the SAS token out of a message (a transport error may quote the URL).
    fn redact(&self, s: &str) -> String {
        match &self.creds.auth {
            Auth::Sas(sas) if !sas.is_empty() => s.replace(sas.as_str(), "<SAS redacted>"),
            _ => s.to_string(),
        }
    }
}

enum AttemptError {
    Transient(Option<Duration>, String),
    Fatal(String),
}
use AttemptError::{Fatal, Transient};

/// The `<Code>` and first sentence of `<Message>` of an error answer.
fn service_error(body: &[u8]) -> (String, String) {
    let xml = String::from_utf8_lossy(body);
    let code = element(&xml, "Code")
        .map(unescape)
        .unwrap_or_default()
        .into_owned();
    let message = element(&xml, "Message")
        .map(unescape)
        .map(|m| {
            let first = m.lines().next().unwrap_or("").trim().to_string();
            if first.is_empty() {
                first
            } else {
                format!(": {first}")
            }
        })
        .unwrap_or_default();
    (code, message)
}

/// An etag without its quotes: listings give `0x8D...`, headers `"0x8D..."`.
pub fn bare_etag(e: &str) -> String {
    e.trim().trim_matches('"').to_string()
}

/// Percent-encodes a container or blob name for the URL path (`/` kept).
pub fn encode_path(s: &str) -> String {
    encode(s, |b| b.is_ascii_alphanumeric() || b"-._~/=:@".contains(&b))
}

fn encode_query(s: &str) -> String {
    encode(s, |b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn encode(s: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_blob_paths() {
        assert_eq!(
            encode_path("resourceId=/SUBSCRIPTIONS/A B/y=2026/PT1H.json"),
            "resourceId=/SUBSCRIPTIONS/A%20B/y=2026/PT1H.json"
        );
        assert_eq!(encode_query("a/b=c&d"), "a%2Fb%3Dc%26d");
    }

    #[test]
    fn service_error_takes_code_and_first_line() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request.\nRequestId:1</Message><AuthenticationErrorDetail>string to sign</AuthenticationErrorDetail></Error>";
        let (c, m) = service_error(body);
        assert_eq!(c, "AuthenticationFailed");
        assert_eq!(m, ": Server failed to authenticate the request.");
    }
}
