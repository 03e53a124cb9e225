//! Links found inside feeds (PDF links) are not trusted: only the configured feed endpoints are.
//! A link is fetched only when
//! - its scheme is `https` (`http` only with `sources.allow-http-links`, for tests),
//! - its host is on the source's allow-list (`sources.link-hosts`, a host or any subdomain of it)
//!   or it has the exact origin of the source's configured endpoint,
//! - every address its host resolves to is public (no loopback, private, link-local, CGNAT,
//!   multicast or unspecified address, IPv4-mapped IPv6 included): checked by the client's own
//!   resolver, so the address connected to is the one checked,
//! - and the same holds for every redirect target.
//!
//! The link client uses no proxy: the address check has to see the address connected to.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use url::Url;

use super::SourceConfig;

/// Why a link was refused (kept in reqwest's error chain so that it can be found again).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct LinkRefused(pub String);

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (first & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
                || (first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
                || (first == 0x0064 && v6.segments()[1] == 0xff9b)) // NAT64 of any v4
        }
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0) // IETF protocol assignments 192.0.0.0/24 (and 192.0.2.0/24)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18.0.0/15
        || a >= 240)
}

/// What links of one source may point at.
#[derive(Debug, Clone)]
pub struct LinkPolicy {
    source: String,
    hosts: Vec<String>,
    endpoint: Option<url::Origin>,
    allow_http: bool,
}

impl LinkPolicy {
    /// The policy for links found in `source`'s feed (`arxiv`, `openreview`, `mlsys`, …).
    pub fn for_source(cfg: &SourceConfig, source: &str) -> LinkPolicy {
        let endpoint = match source {
            "arxiv" => Some(&cfg.arxiv_url),
            "openreview" => Some(&cfg.openreview_url),
            "mlsys" => Some(&cfg.mlsys_url),
            _ => None,
        }
        .and_then(|u| Url::parse(u).ok())
        .map(|u| u.origin());
        LinkPolicy {
            source: source.to_owned(),
            hosts: cfg
                .link_hosts
                .get(source)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|h| h.trim().trim_start_matches("*.").to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
            endpoint,
            allow_http: cfg.allow_http_links,
        }
    }

    fn is_endpoint_origin(&self, url: &Url) -> bool {
        self.endpoint.as_ref().is_some_and(|o| *o == url.origin())
    }

    /// Checks a link (or a redirect target) before anything is sent to it.
    pub fn check(&self, url: &Url) -> Result<(), LinkRefused> {
        // The configured endpoint's own origin is as trusted as the endpoint.
        if self.is_endpoint_origin(url) {
            return Ok(());
        }
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => {
                return Err(LinkRefused(
                    "plain http links are refused (set sources.allow-http-links only for tests)"
                        .into(),
                ));
            }
            other => return Err(LinkRefused(format!("the scheme `{other}` is refused"))),
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => return self.check_literal(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => return self.check_literal(IpAddr::V6(ip)),
            None => return Err(LinkRefused("the link has no host".into())),
        };
        let allowed = self
            .hosts
            .iter()
            .any(|h| host == *h || host.ends_with(&format!(".{h}")));
        if allowed {
            Ok(())
        } else {
            Err(LinkRefused(format!(
                "the host `{host}` is not on sources.link-hosts.{} ({})",
                self.source,
                if self.hosts.is_empty() {
                    "empty".to_owned()
                } else {
                    self.hosts.join(", ")
                }
            )))
        }
    }

    fn check_literal(&self, ip: IpAddr) -> Result<(), LinkRefused> {
        if !is_public(ip) {
            return Err(LinkRefused(format!("the address {ip} is not a public one")));
        }
        let literal = ip.to_string();
        if self
            .hosts
            .iter()
            .any(|h| h.trim_matches(['[', ']']) == literal)
        {
            Ok(())
        } else {
            Err(LinkRefused(format!(
                "the address {ip} is not on sources.link-hosts.{}",
                self.source
            )))
        }
    }

    /// A client that fetches links of this source: no proxy, every redirect target checked,
    /// every resolved address checked.
    pub fn client(&self, cfg: &SourceConfig) -> Result<reqwest::Client, reqwest::Error> {
        let policy = self.clone();
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                return attempt.error(LinkRefused("more than 5 redirects".into()));
            }
            match policy.check(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(refused) => {
                    let refused = LinkRefused(format!(
                        "a redirect to {} was refused: {}",
                        attempt.url(),
                        refused.0
                    ));
                    attempt.error(refused)
                }
            }
        });
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(redirects)
            .connect_timeout(std::time::Duration::from_secs(
                cfg.request_timeout_secs.clamp(1, 30),
            ))
            .dns_resolver(Arc::new(PublicOnly {
                endpoint_hosts: endpoint_hosts(cfg),
            }));
        if let Ok(agent) = reqwest::header::HeaderValue::from_str(&cfg.user_agent) {
            builder = builder.user_agent(agent);
        }
        builder.build()
    }
}

/// Hosts of the configured endpoints: trusted, so they may resolve to private addresses.
fn endpoint_hosts(cfg: &SourceConfig) -> Vec<String> {
    [&cfg.arxiv_url, &cfg.openreview_url, &cfg.mlsys_url]
        .into_iter()
        .filter_map(|u| Url::parse(u).ok())
        .filter_map(|u| u.host_str().map(str::to_ascii_lowercase))
        .collect()
}

/// A resolver that gives only public addresses (or refuses the name).
struct PublicOnly {
    endpoint_hosts: Vec<String>,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let trusted = self.endpoint_hosts.contains(&host);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !trusted && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
                return Err(Box::new(LinkRefused(format!(
                    "`{host}` resolves to {}, which is not a public address",
                    bad.ip()
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            if addrs.is_empty() {
                return Err(format!("`{host}` resolves to no address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The refusal somewhere in an error's causes, if there is one.
pub fn refusal_in(e: &(dyn std::error::Error + 'static)) -> Option<LinkRefused> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(refused) = err.downcast_ref::<LinkRefused>() {
            return Some(refused.clone());
        }
        current = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    /// Addresses that are not public.
    const EXAMPLE_REFUSED: [IpAddr; 6] = [
        IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
        IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
        IpAddr::V4(Ipv4Addr::new(100, 100, 1, 1)),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x7f00, 1)),
    ];

    fn cfg() -> SourceConfig {
        SourceConfig::default()
    }

    #[test]
    fn public_and_not() {
        for ip in EXAMPLE_REFUSED {
            assert!(!is_public(ip), "{ip}");
        }
        for ip in [
            "fd00::1",
            "fe80::1",
            "0.0.0.0",
            "192.168.1.1",
            "172.16.0.1",
            "::",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["151.101.1.1", "2a04:4e42::1", "8.8.8.8"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn links_checked_by_scheme_host_and_address() {
        let arxiv = LinkPolicy::for_source(&cfg(), "arxiv");
        let ok = |u: &str| arxiv.check(&Url::parse(u).unwrap());
        assert!(ok("https://arxiv.org/pdf/2611.04821v1").is_ok());
        assert!(ok("https://export.arxiv.org/pdf/2611.04821v1").is_ok());
        let refused = |u: &str| ok(u).expect_err(u).0;
        assert!(refused("http://arxiv.org/pdf/1").contains("plain http"));
        assert!(refused("file:///etc/passwd").contains("scheme `file`"));
        assert!(
            refused("https://arxiv.org.evil.example/pdf/1")
                .contains("not on sources.link-hosts.arxiv")
        );
        assert!(refused("https://169.254.169.254/latest/meta-data/").contains("not a public"));
        assert!(refused("https://[::ffff:127.0.0.1]/x").contains("not a public"));
        assert!(refused("https://8.8.8.8/x").contains("not on sources.link-hosts"));
        // An OpenReview host is not an arXiv host.
        assert!(refused("https://openreview.net/pdf?id=x").contains("link-hosts.arxiv"));
        let openreview = LinkPolicy::for_source(&cfg(), "openreview");
        assert!(
            openreview
                .check(&Url::parse("https://openreview.net/pdf?id=x").unwrap())
                .is_ok()
        );
        // MLSys PDFs are on the proceedings site (or another mlsys.org host), not elsewhere.
        let mlsys = LinkPolicy::for_source(&cfg(), "mlsys");
        let mlsys_ok = |u: &str| mlsys.check(&Url::parse(u).unwrap());
        assert!(
            mlsys_ok(
                "https://proceedings.mlsys.org/paper_files/paper/2024/file/ab-Paper-Conference.pdf"
            )
            .is_ok()
        );
        assert!(mlsys_ok("https://mlsys.org/media/x.pdf").is_ok());
        assert!(
            mlsys_ok("https://arxiv.org/pdf/1")
                .expect_err("not an MLSys host")
                .0
                .contains("link-hosts.mlsys")
        );
        // A source without a list refuses everything but its endpoint.
        let other = LinkPolicy::for_source(&cfg(), "elsewhere");
        assert!(
            other
                .check(&Url::parse("https://arxiv.org/pdf/1").unwrap())
                .is_err()
        );
    }

    #[test]
    fn the_configured_endpoint_origin_is_trusted() {
        let cfg = SourceConfig {
            arxiv_url: "http://127.0.0.1:4000/api/query".into(),
            ..cfg()
        };
        let arxiv = LinkPolicy::for_source(&cfg, "arxiv");
        assert!(
            arxiv
                .check(&Url::parse("http://127.0.0.1:4000/pdf/1").unwrap())
                .is_ok()
        );
        // The same host on another port is another origin.
        assert!(
            arxiv
                .check(&Url::parse("http://127.0.0.1:4001/pdf/1").unwrap())
                .is_err()
        );
        // The MLSys site configured is its source's endpoint, and no other source's.
        let cfg = SourceConfig {
            mlsys_url: "http://127.0.0.1:4002".into(),
            ..cfg
        };
        let pdf = Url::parse("http://127.0.0.1:4002/paper_files/paper/2024/file/a.pdf").unwrap();
        assert!(LinkPolicy::for_source(&cfg, "mlsys").check(&pdf).is_ok());
        assert!(LinkPolicy::for_source(&cfg, "arxiv").check(&pdf).is_err());
    }
}
