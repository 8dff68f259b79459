//! Signing in to a storage account: a connection string, an account key (SharedKey) or a
//! SAS token. Secrets stay inside [`Credentials`]: its `Debug` redacts them and no error
//! built here contains one.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::config::AzureBlobConfig;

/// The account name and key of the Azurite storage emulator (public, documented by Microsoft).
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// The Azurite emulator's well-known key (public, documented by Microsoft).
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// How requests are signed.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: SharedKey account:signature`, with the decoded account key.
    SharedKey { account: String, key: Vec<u8> },
    /// A SAS token appended to every URL's query (without the leading `?`).
    Sas(String),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::SharedKey { account, .. } => write!(f, "SharedKey({account}, key redacted)"),
            Auth::Sas(_) => write!(f, "Sas(redacted)"),
        }
    }
}

impl Auth {
    /// A key wins over a SAS; `None` when there is neither.
    fn from_parts(
        account: &str,
        key: Option<String>,
        sas: Option<String>,
    ) -> Option<Result<Auth, String>> {
        match (key, sas) {
            (Some(k), _) => Some(decode_key(&k).map(|key| Auth::SharedKey {
                account: account.to_string(),
                key,
            })),
            (None, Some(s)) => Some(Ok(Auth::Sas(clean_sas(&s)))),
            (None, None) => None,
        }
    }
}

/// Where the blob service is and how to sign in to it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Credentials {
    /// The blob endpoint without a trailing `/`, e.g. `https://acct.blob.core.windows.net`
    /// or `http://127.0.0.1:10000/devstoreaccount1`.
    pub endpoint: String,
    /// The account name (for messages and SharedKey).
    pub account: String,
    pub auth: Auth,
}

/// The environment variables read when the config leaves credentials unset (the names the
/// Azure CLI uses).
pub const ENV_CONNECTION_STRING: &str = "AZURE_STORAGE_CONNECTION_STRING";
pub const ENV_ACCOUNT: &str = "AZURE_STORAGE_ACCOUNT";
pub const ENV_KEY: &str = "AZURE_STORAGE_KEY";
pub const ENV_SAS: &str = "AZURE_STORAGE_SAS_TOKEN";

impl Credentials {
    /// From the config, falling back to the environment (`env` looks a variable up).
    pub fn resolve(
        cfg: &AzureBlobConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Credentials, String> {
        let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        if let Some(cs) = nonempty(cfg.connection_string.clone()) {
            return Credentials::from_connection_string(&cs);
        }
        let account = nonempty(cfg.account.clone()).or_else(|| nonempty(env(ENV_ACCOUNT)));
        let key = nonempty(cfg.account_key.clone()).or_else(|| nonempty(env(ENV_KEY)));
        let sas = nonempty(cfg.sas_token.clone()).or_else(|| nonempty(env(ENV_SAS)));
        if let Some(account) = account {
            let endpoint = match &cfg.endpoint {
                Some(e) => e.trim_end_matches('/').to_string(),
                None => format!("https://{account}.blob.core.windows.net"),
            };
            let auth = Auth::from_parts(&account, key, sas).ok_or_else(|| {
                format!(
                    "storage account `{account}` has no credentials: set azure_blob.account_key or azure_blob.sas_token, or {ENV_KEY} or {ENV_SAS}"
                )
            })??;
            return Ok(Credentials {
                endpoint,
                account,
                auth,
            });
        }
        if let Some(cs) = nonempty(env(ENV_CONNECTION_STRING)) {
            return Credentials::from_connection_string(&cs);
        }
        Err(format!(
            "no storage credentials: set {ENV_CONNECTION_STRING} (the connection string from the portal's Access keys page), or {ENV_ACCOUNT} with {ENV_KEY} or {ENV_SAS}, or the azure_blob section of the config"
        ))
    }

    /// Parses a connection string: `AccountName`/`AccountKey`, `SharedAccessSignature`,
    /// `BlobEndpoint`, `DefaultEndpointsProtocol`, `EndpointSuffix`, `UseDevelopmentStorage`.
    pub fn from_connection_string(cs: &str) -> Result<Credentials, String> {
        let mut name = None;
        let mut key = None;
        let mut sas = None;
        let mut blob_endpoint = None;
        let mut protocol = "https".to_string();
        let mut suffix = "core.windows.net".to_string();
        let mut dev = false;
        for (i, part) in cs.split(';').enumerate() {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            // Split at the first `=` only: keys and SAS tokens end in or hold `=`.
            let Some((k, v)) = part.split_once('=') else {
                return Err(format!(
                    "connection string part {} has no `=` (expected Key=Value pairs separated by `;`)",
                    i + 1
                ));
            };
            match k.trim().to_ascii_lowercase().as_str() {
                "accountname" => name = Some(v.trim().to_string()),
                "accountkey" => key = Some(v.trim().to_string()),
                "sharedaccesssignature" => sas = Some(v.trim().to_string()),
                "blobendpoint" => blob_endpoint = Some(v.trim().trim_end_matches('/').to_string()),
                "defaultendpointsprotocol" => protocol = v.trim().to_string(),
                "endpointsuffix" => suffix = v.trim().to_string(),
                "usedevelopmentstorage" => dev = v.trim().eq_ignore_ascii_case("true"),
                // Other services' endpoints and unknown keys do not concern blobs.
                _ => {}
            }
        }
        if dev {
            let endpoint = blob_endpoint
                .unwrap_or_else(|| format!("http://127.0.0.1:10000/{AZURITE_ACCOUNT}"));
            return Ok(Credentials {
                endpoint,
                account: AZURITE_ACCOUNT.into(),
                auth: Auth::SharedKey {
                    account: AZURITE_ACCOUNT.into(),
                    key: decode_key(AZURITE_KEY)?,
                },
            });
        }
        let account = match (&name, &blob_endpoint) {
            (Some(n), _) => n.clone(),
            (None, Some(e)) => account_from_endpoint(e).unwrap_or_default(),
            (None, None) => {
                return Err("connection string has neither AccountName nor BlobEndpoint".into())
            }
        };
        let endpoint =
            blob_endpoint.unwrap_or_else(|| format!("{protocol}://{account}.blob.{suffix}"));
        let auth = Auth::from_parts(&account, key, sas).ok_or_else(|| {
            "connection string has neither AccountKey nor SharedAccessSignature".to_string()
        })??;
        Ok(Credentials {
            endpoint,
            account,
            auth,
        })
    }
}

fn clean_sas(s: &str) -> String {
    s.trim().trim_start_matches('?').to_string()
}

fn decode_key(k: &str) -> Result<Vec<u8>, String> {
    // Never echo the key: only its length.
    B64.decode(k.trim()).map_err(|_| {
        format!(
            "the account key ({} characters) is not valid base64: copy key1 or key2 from the storage account's Access keys page",
            k.trim().len()
        )
    })
}

/// `https://acct.blob.core.windows.net` -> `acct`; `http://host:port/acct` (emulator) -> `acct`.
fn account_from_endpoint(e: &str) -> Option<String> {
    let rest = e.split_once("://").map_or(e, |(_, r)| r);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let first_path = path.split('/').next().unwrap_or("");
    if !first_path.is_empty() {
        return Some(first_path.to_string());
    }
    host.split('.').next().map(str::to_string)
}

/// What a request signs: method, the URL path as sent, query pairs (decoded), and the
/// `x-ms-*` headers and the standard headers that take part.
pub struct ToSign<'a> {
    pub method: &'a str,
    /// The path as sent, percent-encoded, starting with `/`.
    pub path: &'a str,
    /// Query parameters, decoded (the SAS is not among them).
    pub query: &'a [(&'a str, &'a str)],
    /// Headers, lower-case names; `x-ms-*` ones are canonicalized.
    pub headers: &'a [(&'a str, &'a str)],
    pub content_length: u64,
}

/// The `Authorization` header value for SharedKey, per the "Authorize with Shared Key"
/// rules of the Blob service (version 2009-09-19 and later).
pub fn shared_key_authorization(account: &str, key: &[u8], r: &ToSign<'_>) -> String {
    let h = |name: &str| {
        r.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| *v)
    };
    let content_length = if r.content_length == 0 {
        String::new()
    } else {
        r.content_length.to_string()
    };
    let mut s = String::with_capacity(256);
    s.push_str(r.method);
    s.push('\n');
    for name in ["content-encoding", "content-language"] {
        s.push_str(h(name));
        s.push('\n');
    }
    s.push_str(&content_length);
    s.push('\n');
    for name in [
        "content-md5",
        "content-type",
        "date",
        "if-modified-since",
        "if-match",
        "if-none-match",
        "if-unmodified-since",
        "range",
    ] {
        s.push_str(h(name));
        s.push('\n');
    }
    let mut ms: Vec<(String, &str)> = r
        .headers
        .iter()
        .filter(|(k, _)| k.to_ascii_lowercase().starts_with("x-ms-"))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim()))
        .collect();
    ms.sort();
    for (k, v) in ms {
        s.push_str(&k);
        s.push(':');
        s.push_str(v);
        s.push('\n');
    }
    s.push('/');
    s.push_str(account);
    s.push_str(r.path);
    let mut q: Vec<(String, &str)> = r
        .query
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), *v))
        .collect();
    q.sort();
    for (k, v) in q {
        s.push('\n');
        s.push_str(&k);
        s.push(':');
        s.push_str(v);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(s.as_bytes());
    format!(
        "SharedKey {account}:{}",
        B64.encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_string_with_key() {
        let c = Credentials::from_connection_string(
            "DefaultEndpointsProtocol=https;AccountName=flowlogs01;AccountKey=c2VjcmV0a2V5;EndpointSuffix=core.windows.net",
        )
        .unwrap();
        assert_eq!(c.endpoint, "https://flowlogs01.blob.core.windows.net");
        assert_eq!(c.account, "flowlogs01");
        assert_eq!(
            c.auth,
            Auth::SharedKey {
                account: "flowlogs01".into(),
                key: b"secretkey".to_vec()
            }
        );
        assert!(!format!("{c:?}").contains("c2VjcmV0a2V5"));
    }

    #[test]
    fn connection_string_with_sas_and_endpoint() {
        let c = Credentials::from_connection_string(
            "BlobEndpoint=https://flowlogs01.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=b&sig=abc%3D",
        )
        .unwrap();
        assert_eq!(c.account, "flowlogs01");
        assert_eq!(c.auth, Auth::Sas("sv=2022-11-02&ss=b&sig=abc%3D".into()));
        assert!(!format!("{c:?}").contains("sig="));
    }

    #[test]
    fn development_storage() {
        let c = Credentials::from_connection_string("UseDevelopmentStorage=true").unwrap();
        assert_eq!(c.endpoint, "http://127.0.0.1:10000/devstoreaccount1");
    }

    #[test]
    fn bad_key_error_does_not_echo_it() {
        let e = Credentials::from_connection_string("AccountName=a;AccountKey=not*base64!secret")
            .unwrap_err();
        assert!(!e.contains("secret"), "{e}");
        assert!(e.contains("Access keys"), "{e}");
    }

    #[test]
    fn missing_everything_says_what_to_set() {
        let e = Credentials::resolve(&AzureBlobConfig::default(), |_| None).unwrap_err();
        assert!(e.contains(ENV_CONNECTION_STRING), "{e}");
        let cfg = AzureBlobConfig {
            account: Some("acct".into()),
            ..Default::default()
        };
        let e = Credentials::resolve(&cfg, |_| None).unwrap_err();
        assert!(e.contains("acct") && e.contains(ENV_KEY), "{e}");
        let c =
            Credentials::resolve(&cfg, |k| (k == ENV_SAS).then(|| "?sv=1&sig=x".into())).unwrap();
        assert_eq!(c.auth, Auth::Sas("sv=1&sig=x".into()));
    }

    /// The example from Microsoft's "Authorize with Shared Key" page layout, checked
    /// against an independent HMAC of the string-to-sign written out by hand.
    #[test]
    fn shared_key_string_to_sign() {
        let key = b"0123456789abcdef";
        let got = shared_key_authorization(
            "myaccount",
            key,
            &ToSign {
                method: "GET",
                path: "/mycontainer",
                query: &[("restype", "container"), ("comp", "list")],
                headers: &[
                    ("x-ms-version", "2021-08-06"),
                    ("x-ms-date", "Fri, 26 Jun 2015 23:39:12 GMT"),
                ],
                content_length: 0,
            },
        );
        let sts = "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Fri, 26 Jun 2015 23:39:12 GMT\nx-ms-version:2021-08-06\n/myaccount/mycontainer\ncomp:list\nrestype:container";
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(sts.as_bytes());
        let want = format!(
            "SharedKey myaccount:{}",
            B64.encode(mac.finalize().into_bytes())
        );
        assert_eq!(got, want);
    }
}
