//! Helpers for the `nsgflow harden` tests: run inputs through the engine into both the
//! harden stage and an independent recorder of every flow, then check a proposal against
//! what was recorded with the library's NSG evaluator.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::Path;

use nsgflow::config::Config;
use nsgflow::engine::{Engine, EventHandler};
use nsgflow::event::{FlowEvent, Origin};
use nsgflow::harden::evaluate::{evaluate, Flow};
use nsgflow::harden::rules::{Access, RuleDirection};
use nsgflow::harden::sources::is_platform;
use nsgflow::harden::{Harden, HardenConfig, Observations, Proposal};
use nsgflow::labels::{Action, FlowState};
use nsgflow::output::DeadLetterWriter;

/// One flow tuple as the logs showed it, recorded independently of the harden stage.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Seen {
    pub nsg: String,
    pub resource_group: String,
    pub direction: RuleDirection,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub dst_port: u16,
    pub allowed: bool,
    pub ms: u64,
}

/// Records every NSG-decided tuple.
#[derive(Default)]
pub struct Recorder {
    pub seen: Vec<Seen>,
}

impl EventHandler for Recorder {
    fn event(&mut self, e: &FlowEvent<'_>) {
        let o = Origin::of(e.record, e.group);
        let Some(nsg) = o.nsg else { return };
        let t = e.tuple;
        self.seen.push(Seen {
            nsg: nsg.to_ascii_uppercase(),
            resource_group: o.resource_group.unwrap_or("").to_ascii_uppercase(),
            direction: RuleDirection::from_flow(t.direction),
            src: t.src_ip,
            dst: t.dst_ip,
            protocol: t.protocol.0,
            dst_port: if t.protocol.has_ports() {
                t.dst_port
            } else {
                0
            },
            allowed: t.action == Action::Allow && t.state != Some(FlowState::Deny),
            ms: t.timestamp_ms,
        });
    }
}

/// Feeds each event to both handlers.
pub struct Tee<'a>(pub &'a mut Observations, pub &'a mut Recorder);

impl EventHandler for Tee<'_> {
    fn event(&mut self, e: &FlowEvent<'_>) {
        self.0.event(e);
        self.1.event(e);
    }
}

/// Everything a harden test looks at.
pub struct HardenRun {
    pub harden: Harden,
    pub obs: Observations,
    pub proposal: Proposal,
    pub seen: Vec<Seen>,
}

/// Runs named texts through the engine with `config`'s enrichment, then proposes.
pub fn run_texts(texts: &[(String, String)], config: &Config, hc: HardenConfig) -> HardenRun {
    let (topology, tags) =
        nsgflow::harden::load_context(config.topology.as_deref(), config.service_tags.as_deref())
            .expect("topology and service tags");
    let harden = Harden::new(hc.clone(), topology.as_ref(), tags.as_ref()).expect("harden");
    let mut engine = Engine::new(config.enricher().expect("enricher"));
    let mut obs = Observations::new(hc.outbound, None, None);
    let mut rec = Recorder::default();
    let mut dead = DeadLetterWriter::new(None);
    for (name, text) in texts {
        engine.process(name, text, &mut Tee(&mut obs, &mut rec), &mut dead);
    }
    let proposal = harden.propose(&obs, &[]);
    HardenRun {
        harden,
        obs,
        proposal,
        seen: rec.seen,
    }
}

/// Reads files (directories walked) and runs them.
pub fn run_paths(paths: &[&Path], config: &Config, hc: HardenConfig) -> HardenRun {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let (inputs, errors) = nsgflow::input::expand(&names);
    assert!(errors.is_empty(), "{errors:?}");
    let mut texts = Vec::new();
    for i in inputs {
        if let nsgflow::input::Input::File(p) = i {
            let text = std::fs::read_to_string(&p).expect("read input");
            texts.push((p.display().to_string(), text));
        }
    }
    run_texts(&texts, config, hc)
}

/// What [`check_safety`] counted.
#[derive(Debug, Default, Clone, Copy)]
pub struct Safety {
    pub allowed_checked: usize,
    pub denied_checked: usize,
    pub unobserved_probes: usize,
}

/// The safety properties over every recorded tuple:
/// 1. every allowed flow is allowed by the proposal (unless the same flow was denied
///    later: the later verdict wins);
/// 2. every denied flow stays denied (unless allowed later, or platform traffic);
/// 3. ports never observed in an NSG (for any host, and outside the ranges the proposal
///    collapsed) are denied, from every remote that was seen and from the internet.
///
/// Returns the counts; panics with the first violations.
pub fn check_safety(run: &HardenRun) -> Safety {
    let outbound = run.proposal.outbound;
    let mut last_allowed: HashMap<(String, RuleDirection, IpAddr, IpAddr, u8, u16), u64> =
        HashMap::new();
    let mut last_denied: HashMap<(String, RuleDirection, IpAddr, IpAddr, u8, u16), u64> =
        HashMap::new();
    for s in &run.seen {
        let k = (
            s.nsg.clone(),
            s.direction,
            s.src,
            s.dst,
            s.protocol,
            s.dst_port,
        );
        let m = if s.allowed {
            &mut last_allowed
        } else {
            &mut last_denied
        };
        let e = m.entry(k).or_insert(0);
        *e = (*e).max(s.ms);
    }
    // An NSG (direction) without proposed rules is left unchanged: nothing to check there.
    let rules_for = |nsg: &str| {
        run.proposal
            .nsgs
            .iter()
            .find(|n| n.nsg.name.eq_ignore_ascii_case(nsg))
            .map(|n| n.rules.clone())
    };
    let mut problems = Vec::new();
    let mut safety = Safety::default();
    let flow = |s: &Seen| Flow {
        src: s.src,
        dst: s.dst,
        protocol: s.protocol,
        src_port: 50000,
        dst_port: s.dst_port,
        direction: s.direction,
    };
    let mut by_nsg: HashMap<String, Option<Vec<nsgflow::harden::SecurityRule>>> = HashMap::new();
    for s in &run.seen {
        if s.direction == RuleDirection::Outbound && !outbound {
            continue;
        }
        let k = (
            s.nsg.clone(),
            s.direction,
            s.src,
            s.dst,
            s.protocol,
            s.dst_port,
        );
        let Some(rules) = by_nsg
            .entry(s.nsg.clone())
            .or_insert_with(|| rules_for(&s.nsg))
        else {
            continue;
        };
        if !rules.iter().any(|r| r.direction == s.direction) {
            continue;
        }
        if s.allowed {
            if last_denied.get(&k).is_some_and(|d| *d > last_allowed[&k]) {
                continue;
            }
            safety.allowed_checked += 1;
            let v = evaluate(rules, &run.harden.book, &flow(s));
            if v.access != Access::Allow {
                problems.push(format!("allowed flow {s:?} denied by {}", v.name));
            }
        } else {
            let remote = if s.direction == RuleDirection::Inbound {
                s.src
            } else {
                s.dst
            };
            if is_platform(remote) || last_allowed.get(&k).is_some_and(|a| *a >= last_denied[&k]) {
                continue;
            }
            safety.denied_checked += 1;
            let v = evaluate(rules, &run.harden.book, &flow(s));
            if v.access != Access::Deny {
                problems.push(format!("denied flow {s:?} allowed by {}", v.name));
            }
        }
    }
    // Unobserved ports.
    let probes: Vec<u16> = [
        1u16, 7, 21, 23, 25, 110, 135, 139, 445, 1433, 1434, 2049, 3306, 5432, 6379, 8081, 9200,
        11211, 27017, 33333, 65000,
    ]
    .into_iter()
    .collect();
    for n in &run.proposal.nsgs {
        let key = n.nsg.name.to_ascii_uppercase();
        let observed: BTreeSet<(u8, u16)> = run
            .seen
            .iter()
            .filter(|s| s.nsg == key)
            .map(|s| (s.protocol, s.dst_port))
            .collect();
        let ranged = |p: u16| {
            n.rules.iter().any(|r| {
                r.destination_ports
                    .ranges()
                    .iter()
                    .any(|x| x.lo < x.hi && !x.is_all() && x.contains(p))
            })
        };
        let hosts: BTreeSet<(RuleDirection, IpAddr)> =
            n.needs.iter().map(|v| (v.direction, v.local)).collect();
        let mut remotes: BTreeSet<IpAddr> = run
            .seen
            .iter()
            .filter(|s| s.nsg == key && s.direction == RuleDirection::Inbound)
            .map(|s| s.src)
            .filter(|ip| !is_platform(*ip))
            .collect();
        remotes.insert("198.51.100.77".parse().unwrap());
        remotes.insert("10.255.255.254".parse().unwrap());
        for (dir, host) in hosts {
            if dir != RuleDirection::Inbound {
                continue;
            }
            for proto in [6u8, 17] {
                for &p in &probes {
                    if observed.contains(&(proto, p)) || ranged(p) {
                        continue;
                    }
                    for &r in &remotes {
                        if r.is_ipv4() != host.is_ipv4() {
                            continue;
                        }
                        safety.unobserved_probes += 1;
                        let f = Flow {
                            src: r,
                            dst: host,
                            protocol: proto,
                            src_port: 50000,
                            dst_port: p,
                            direction: dir,
                        };
                        let v = evaluate(&n.rules, &run.harden.book, &f);
                        if v.access != Access::Deny {
                            problems.push(format!(
                                "unobserved {proto}/{p} {r} -> {host} allowed by {}",
                                v.name
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} safety violations, first ones:\n{}",
        problems.len(),
        problems
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    safety
}

/// Tightness: the share of (host, port) pairs the proposal opens (to any remote) that
/// were never used, over `hosts` (every host that exists) and the ports of `ports`
/// (every port anything used), per protocol.
pub fn tightness(run: &HardenRun, hosts: &[IpAddr]) -> (usize, usize) {
    let mut used: BTreeSet<(String, IpAddr, u8, u16)> = BTreeSet::new();
    let mut ports: BTreeSet<(u8, u16)> = BTreeSet::new();
    for s in &run.seen {
        if s.allowed && s.direction == RuleDirection::Inbound {
            used.insert((s.nsg.clone(), s.dst, s.protocol, s.dst_port));
            ports.insert((s.protocol, s.dst_port));
        }
    }
    let (mut opened, mut unused) = (0, 0);
    for n in &run.proposal.nsgs {
        let key = n.nsg.name.to_ascii_uppercase();
        for &h in hosts {
            for &(proto, p) in &ports {
                let open = n.rules.iter().take_while(|r| r.priority < 4096).any(|r| {
                    r.access == Access::Allow
                        && r.direction == RuleDirection::Inbound
                        && !r
                            .source
                            .entries()
                            .iter()
                            .any(|e| e.to_string() == "AzureLoadBalancer")
                        && r.protocol.matches(proto)
                        && r.destination_ports.contains(p)
                        && run.harden.book.contains(&r.destination, h)
                });
                if open {
                    opened += 1;
                    if !used.contains(&(key.clone(), h, proto, p)) {
                        unused += 1;
                    }
                }
            }
        }
    }
    (opened, unused)
}
