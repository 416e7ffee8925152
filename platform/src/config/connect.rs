//! The values of `connect.*` that say how to reach the controller, parsed and checked
//! without any I/O: the endpoint URL, the HTTP CONNECT proxy (`connect.proxy` or the
//! environment's), a certificate pin. `service::dial` uses them to dial; `ksocket
//! config` to check and show them (the proxy's password masked).

use super::Connect;

/// Where the agent connects: `connect.endpoint` with its `%(...)` fields filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl Endpoint {
    pub fn of(k: &Connect) -> Result<Endpoint, String> {
        let url = k
            .endpoint
            .replace("%(protocol)s", &k.protocol)
            .replace("%(host)s", &k.host)
            .replace("%(port)d", &k.port.to_string());
        Endpoint::parse(&url)
    }

    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let bad = |why: &str| format!("connect.endpoint `{url}`: {why}");
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let tls = match scheme {
            "wss" => true,
            "ws" => false,
            _ => return Err(bad("the scheme is not wss or ws")),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = split_host_port(authority, if tls { 443 } else { 80 })
            .ok_or_else(|| bad("the host or port is not valid"))?;
        Ok(Endpoint {
            tls,
            host,
            port,
            path: path.to_string(),
        })
    }

    pub fn url(&self) -> String {
        let h = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!(
            "{}://{h}:{}{}",
            if self.tls { "wss" } else { "ws" },
            self.port,
            self.path
        )
    }
}

fn split_host_port(a: &str, default: u16) -> Option<(String, u16)> {
    if a.is_empty() || a.contains('@') {
        return None;
    }
    let (h, p) = if let Some(r) = a.strip_prefix('[') {
        let (h, rest) = r.split_once(']')?;
        (h, rest.strip_prefix(':'))
    } else {
        match a.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (a, None),
        }
    };
    let port = match p {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0)?,
        None => default,
    };
    (!h.is_empty()).then(|| (h.to_string(), port))
}

/// An HTTP CONNECT proxy.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    pub host: String,
    pub port: u16,
    /// `Basic ...` credentials (a secret: never logged; the dialer alone reads it).
    pub(crate) auth: Option<String>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "proxy {}:{}{}",
            self.host,
            self.port,
            if self.auth.is_some() {
                " (with a password)"
            } else {
                ""
            }
        )
    }
}

impl Proxy {
    /// `http://[user:password@]host[:port]` (a bare `host:port` too). The error never
    /// quotes the value (it may hold a password).
    pub fn parse(v: &str) -> Result<Proxy, String> {
        let rest = match v.split_once("://") {
            Some(("http", r)) => r,
            Some((s, _)) => return Err(format!("the scheme `{s}` is not http")),
            None => v,
        };
        let rest = rest.trim_end_matches('/');
        let (auth, hostport) = match rest.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, rest),
        };
        let (host, port) = split_host_port(hostport, 80)
            .ok_or_else(|| "is not http://[user:password@]host:port".to_string())?;
        let auth = auth.map(|a| {
            format!(
                "Basic {}",
                data_encoding::BASE64.encode(percent_decode(a).as_bytes())
            )
        });
        Ok(Proxy { host, port, auth })
    }

    /// The proxy for `ep`: `connect.proxy` when set, else HTTPS_PROXY (wss) or
    /// HTTP_PROXY (ws) of the environment, unless NO_PROXY names the host.
    pub fn for_endpoint(k: &Connect, ep: &Endpoint) -> Result<Option<Proxy>, String> {
        if !k.proxy.expose().is_empty() {
            return Proxy::parse(k.proxy.expose())
                .map(Some)
                .map_err(|e| format!("connect.proxy {e}"));
        }
        let var = |n: &str| {
            std::env::var(n)
                .or_else(|_| std::env::var(n.to_lowercase()))
                .ok()
                .filter(|v| !v.is_empty())
        };
        let name = if ep.tls { "HTTPS_PROXY" } else { "HTTP_PROXY" };
        let Some(v) = var(name) else { return Ok(None) };
        if let Some(np) = var("NO_PROXY")
            && no_proxy_matches(&np, &ep.host)
        {
            return Ok(None);
        }
        Proxy::parse(&v)
            .map(Some)
            .map_err(|e| format!("{name} {e}"))
    }
}

/// `connect.proxy` as `ksocket config` shows it: the password masked.
pub fn redact_proxy(v: &str) -> String {
    match v.rsplit_once('@') {
        Some((a, h)) => {
            let (scheme, a) = a.split_once("://").map_or(("", a), |(s, a)| (s, a));
            let user = a.split(':').next().unwrap_or("");
            let s = if scheme.is_empty() {
                String::new()
            } else {
                format!("{scheme}://")
            };
            format!("{s}{user}:***@{h}")
        }
        None => v.to_string(),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(x) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(x);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    list.split(',').map(str::trim).any(|e| {
        let e = e.to_ascii_lowercase();
        let e = e.split(':').next().unwrap_or("").trim_start_matches('.');
        !e.is_empty() && (e == "*" || host == e || host.ends_with(&format!(".{e}")))
    })
}

/// A SHA-256 pin: 64 hex digits, colons allowed.
pub fn parse_pin(v: &str) -> Option<[u8; 32]> {
    let hex: String = v.chars().filter(|c| *c != ':').collect();
    let b = data_encoding::HEXLOWER_PERMISSIVE
        .decode(hex.as_bytes())
        .ok()?;
    b.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_of_the_spec_default() {
        let k = Connect::default();
        let e = Endpoint::of(&k).unwrap();
        assert_eq!(
            e.url(),
            "wss://fixpoint.cloud.kompira.jp:443/api/ksocket/connect"
        );
        let e = Endpoint::parse("ws://[::1]:8080/x").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.tls), ("::1", 8080, false));
        assert!(Endpoint::parse("http://a/b").is_err());
        assert!(Endpoint::parse("wss://a:0/b").is_err());
        assert!(Endpoint::parse("wss://u:p@a/b").is_err());
    }

    #[test]
    fn proxies_and_their_secrets() {
        let p = Proxy::parse("http://alice:s%40cret@127.0.0.1:3128").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 3128));
        assert_eq!(
            p.auth.as_deref(),
            Some(format!("Basic {}", data_encoding::BASE64.encode(b"alice:s@cret")).as_str())
        );
        assert!(!format!("{p:?}").contains("cret"));
        assert_eq!(
            redact_proxy("http://alice:s3cret@proxy:3128"),
            "http://alice:***@proxy:3128"
        );
        let e = Proxy::parse("socks5://alice:s3cret@proxy:1080").unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
        assert!(no_proxy_matches(
            "localhost, .lab.example",
            "ctl.lab.example"
        ));
        assert!(no_proxy_matches("*", "x"));
        assert!(!no_proxy_matches("lab.example", "notlab.example"));
    }

    #[test]
    fn pins() {
        let hex = "AB:".repeat(31) + "AB";
        assert_eq!(parse_pin(&hex), Some([0xab; 32]));
        assert_eq!(parse_pin("abcd"), None);
    }
}
