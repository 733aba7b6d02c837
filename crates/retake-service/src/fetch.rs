//! Fetching media and calling webhooks without letting a URL reach inside the network.
//!
//! Every address a host name resolves to is checked in the DNS resolver itself, so the
//! address checked is the address connected to (no rebinding window), and redirects go
//! through the same resolver. Literal IP hosts are checked before the request and on every
//! redirect. Proxies from the environment are ignored.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;
use tokio::io::AsyncWriteExt;

use crate::error::ServiceError;

/// A network a URL may reach even though it is private (e.g. `127.0.0.1/32` in tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllowNet {
    /// Network address.
    pub addr: IpAddr,
    /// Prefix length in bits.
    pub prefix: u8,
}

impl AllowNet {
    /// Parses `10.0.0.0/8`, `::1` or `127.0.0.1`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or CIDR network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: prefix must be 0 to {max}"))?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }

    /// Whether `ip` is inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// How outgoing requests are made.
#[derive(Clone, Debug)]
pub struct FetchConfig {
    /// Private networks that may be reached anyway (empty by default).
    pub allow: Vec<AllowNet>,
    /// Whole-request timeout for a media download.
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Redirects followed at most.
    pub max_redirects: usize,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            max_redirects: 5,
        }
    }
}

/// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Why an address may not be reached, or `None` when it is public.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(a) => v4_reason(a),
        IpAddr::V6(a) => v6_reason(a),
    }
}

fn v4_reason(a: Ipv4Addr) -> Option<&'static str> {
    let o = a.octets();
    if a.is_loopback() {
        Some("loopback")
    } else if a.is_private() {
        Some("private")
    } else if a.is_link_local() {
        Some("link-local (cloud metadata lives here)")
    } else if a.is_unspecified() || o[0] == 0 {
        Some("unspecified")
    } else if a.is_broadcast() || a.is_multicast() || o[0] >= 240 {
        Some("broadcast, multicast or reserved")
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some("carrier-grade NAT")
    } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        Some("IETF protocol assignments")
    } else if o[0] == 198 && (o[1] & 0xfe) == 18 {
        Some("benchmarking")
    } else {
        None
    }
}

fn v6_reason(a: Ipv6Addr) -> Option<&'static str> {
    let s = a.segments();
    if a.is_loopback() {
        Some("loopback")
    } else if a.is_unspecified() {
        Some("unspecified")
    } else if a.is_multicast() {
        Some("multicast")
    } else if (s[0] & 0xfe00) == 0xfc00 {
        Some("unique-local (private)")
    } else if (s[0] & 0xffc0) == 0xfe80 {
        Some("link-local")
    } else if s[0] == 0x64 && s[1] == 0xff9b {
        Some("NAT64 (may reach private IPv4)")
    } else if s[0] == 0x2002 {
        Some("6to4 (may reach private IPv4)")
    } else {
        None
    }
}

/// An address refused by the guard; found again in reqwest's error chain.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {addr}, a {why} address; retake only fetches public addresses (an operator can allow networks with the fetch allow-list)")]
pub struct Blocked {
    host: String,
    addr: IpAddr,
    why: &'static str,
}

fn check_ip(host: &str, ip: IpAddr, allow: &[AllowNet]) -> Result<(), Blocked> {
    match forbidden_reason(ip) {
        Some(why) if !allow.iter().any(|n| n.contains(ip)) => Err(Blocked {
            host: host.to_string(),
            addr: ip,
            why,
        }),
        _ => Ok(()),
    }
}

struct GuardedResolver {
    allow: Arc<Vec<AllowNet>>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut ok = Vec::new();
            let mut first_block = None;
            for a in addrs {
                match check_ip(&host, a.ip(), &allow) {
                    Ok(()) => ok.push(a),
                    Err(b) => first_block = first_block.or(Some(b)),
                }
            }
            // Any refused address refuses the host: a name that mixes public and private
            // answers is a rebinding attempt or a misconfiguration either way.
            if let Some(b) = first_block {
                return Err(Box::new(b) as Box<dyn std::error::Error + Send + Sync>);
            }
            let it: Addrs = Box::new(ok.into_iter());
            Ok(it)
        })
    }
}

fn check_url(url: &Url, allow: &[AllowNet]) -> Result<(), ServiceError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ServiceError::BadRequest(format!(
            "{url}: only http:// and https:// URLs are fetched"
        )));
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(a)) => Some(IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => Some(IpAddr::V6(a)),
        Some(url::Host::Domain(_)) => None,
        None => {
            return Err(ServiceError::BadRequest(format!(
                "{url}: the URL has no host"
            )));
        }
    };
    if let Some(ip) = ip {
        check_ip(url.host_str().unwrap_or_default(), ip, allow)
            .map_err(|b| ServiceError::BadRequest(b.to_string()))?;
    }
    Ok(())
}

/// An HTTP client that refuses non-public targets; used for media and webhooks.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    allow: Arc<Vec<AllowNet>>,
}

impl Fetcher {
    /// Builds the client from `config`.
    pub fn new(config: &FetchConfig) -> Result<Self, ServiceError> {
        let allow = Arc::new(config.allow.clone());
        let redirect_allow = allow.clone();
        let max = config.max_redirects;
        let client = reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                allow: allow.clone(),
            }))
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= max {
                    return attempt.error(format!("more than {max} redirects"));
                }
                match check_url(attempt.url(), &redirect_allow) {
                    Ok(()) => attempt.follow(),
                    Err(e) => attempt.error(e.to_string()),
                }
            }))
            .user_agent(concat!("retake/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ServiceError::Internal(format!("HTTP client: {e}")))?;
        Ok(Self { client, allow })
    }

    /// Parses and checks a URL before any connection is made.
    pub fn check(&self, url: &str) -> Result<Url, ServiceError> {
        let parsed = Url::parse(url.trim())
            .map_err(|e| ServiceError::BadRequest(format!("`{url}` is not a valid URL: {e}")))?;
        check_url(&parsed, &self.allow)?;
        Ok(parsed)
    }

    /// Checks a URL as [`Fetcher::check`] does, and resolves its host name now with the
    /// same guard the connection will use, so a name that points inside the network is
    /// refused when the URL is given rather than when it is first called (callbacks).
    pub async fn check_resolved(&self, field: &str, url: &str) -> Result<Url, ServiceError> {
        let parsed = self
            .check(url)
            .map_err(|e| ServiceError::BadRequest(format!("{field}: {e}")))?;
        let Some(url::Host::Domain(host)) = parsed.host() else {
            return Ok(parsed);
        };
        let port = parsed.port_or_known_default().unwrap_or(80);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| {
                ServiceError::BadRequest(format!(
                    "{field}: the host `{host}` could not be resolved ({e}); check the URL"
                ))
            })?
            .collect();
        if addrs.is_empty() {
            return Err(ServiceError::BadRequest(format!(
                "{field}: the host `{host}` has no address; check the URL"
            )));
        }
        for a in addrs {
            check_ip(host, a.ip(), &self.allow)
                .map_err(|b| ServiceError::BadRequest(format!("{field}: {b}")))?;
        }
        Ok(parsed)
    }

    /// The guarded client, for webhook POSTs (check the URL with [`Fetcher::check`] first).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Downloads `url` (named `field` in errors) into `dest`, at most `max_bytes`.
    /// The file appears under `dest` only when complete.
    pub async fn download(
        &self,
        field: &str,
        url: &str,
        dest: &Path,
        max_bytes: u64,
    ) -> Result<u64, ServiceError> {
        let parsed = self.check(url)?;
        let mut resp = self
            .client
            .get(parsed)
            .send()
            .await
            .map_err(|e| request_error(field, &e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(ServiceError::UnreadableMedia(format!(
                "{field}: the server answered HTTP {status}; check the URL is right and public"
            )));
        }
        if let Some(len) = resp.content_length() {
            if len > max_bytes {
                return Err(too_big(field, len, max_bytes));
            }
        }
        let tmp = dest.with_extension("part");
        let mut file = tokio::fs::File::create(&tmp).await?;
        let mut total: u64 = 0;
        let result = async {
            while let Some(chunk) = resp.chunk().await.map_err(|e| request_error(field, &e))? {
                total += chunk.len() as u64;
                if total > max_bytes {
                    return Err(too_big(field, total, max_bytes));
                }
                file.write_all(&chunk).await?;
            }
            file.flush().await?;
            file.sync_all().await?;
            Ok(total)
        }
        .await;
        drop(file);
        match result {
            Ok(n) => {
                tokio::fs::rename(&tmp, dest).await?;
                Ok(n)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
    }
}

fn too_big(field: &str, got: u64, max: u64) -> ServiceError {
    ServiceError::TooLarge(format!(
        "{field} is over the limit: more than {:.1} MB received, the limit is {:.1} MB — \
         compress or trim it",
        got.min(max + 1) as f64 / 1e6,
        max as f64 / 1e6
    ))
}

/// Turns a reqwest failure into the error the caller can act on.
pub fn request_error(field: &str, e: &reqwest::Error) -> ServiceError {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(b) = s.downcast_ref::<Blocked>() {
            return ServiceError::BadRequest(format!("{field}: {b}"));
        }
        src = s.source();
    }
    let mut detail = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        detail = format!("{detail}: {s}");
        src = s.source();
    }
    if e.is_timeout() {
        ServiceError::UpstreamTimeout(format!(
            "{field}: the server did not answer in time; try a faster host"
        ))
    } else if e.is_redirect() {
        ServiceError::BadRequest(format!("{field}: redirect refused: {detail}"))
    } else {
        ServiceError::Upstream(format!("{field}: could not fetch it ({detail})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_and_special_addresses_are_refused() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
        ] {
            assert!(forbidden_reason(ip(a)).is_some(), "{a}");
        }
        for a in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(forbidden_reason(ip(a)).is_none(), "{a}");
        }
    }

    #[test]
    fn allow_list_matches_networks() {
        let n = AllowNet::parse("127.0.0.0/8").unwrap();
        assert!(n.contains(ip("127.5.5.5")) && !n.contains(ip("128.0.0.1")));
        assert!(n.contains(ip("::ffff:127.0.0.1")));
        let one = AllowNet::parse("::1").unwrap();
        assert!(one.contains(ip("::1")) && !one.contains(ip("::2")));
        assert!(AllowNet::parse("10.0.0.0/33").is_err());
        assert!(AllowNet::parse("nope").is_err());
        let all = AllowNet::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(ip("10.0.0.1")));
        assert!(check_ip("h", ip("127.0.0.1"), &[n]).is_ok());
        assert!(check_ip("h", ip("127.0.0.1"), &[]).is_err());
    }

    #[test]
    fn literal_and_scheme_checks_happen_before_connecting() {
        let f = Fetcher::new(&FetchConfig::default()).unwrap();
        for u in [
            "file:///etc/passwd",
            "http://127.0.0.1/x",
            "http://[::1]/x",
            "http://169.254.169.254/latest",
        ] {
            let e = f.check(u).unwrap_err();
            assert!(matches!(e, ServiceError::BadRequest(_)), "{u}: {e}");
        }
        assert!(f.check("https://example.com/a.mp4").is_ok());
    }

    #[tokio::test]
    async fn callback_hosts_are_resolved_and_checked_up_front() {
        let f = Fetcher::new(&FetchConfig::default()).unwrap();
        for u in [
            "http://localhost/cb",
            "http://169.254.169.254/",
            "http://[::ffff:10.0.0.1]/x",
            "ftp://example.com/x",
        ] {
            let e = f.check_resolved("callback_url", u).await.unwrap_err();
            assert!(matches!(e, ServiceError::BadRequest(_)), "{u}: {e}");
            assert!(e.to_string().starts_with("callback_url: "), "{u}: {e}");
        }
        let allowed = Fetcher::new(&FetchConfig {
            allow: vec![AllowNet::parse("127.0.0.0/8").unwrap()],
            ..FetchConfig::default()
        })
        .unwrap();
        assert!(allowed
            .check_resolved("callback_url", "http://127.0.0.1:9/cb")
            .await
            .is_ok());
    }
}
