//! Who holds a work lease or a journal entry: each partreel process's own identity, and
//! whether the process behind an identity is gone.
//!
//! Every process — a one-off `partreel sync`, a daemon, another job of the same daemon's
//! configuration run by hand — leases work and journals remote writes under an identity no
//! other process shares, so two processes on one state never take each other's leases or
//! journal entries for their own. The identity reads
//! `NAME@HOST/PID/START/MACHINE`: `NAME` is `[sync] instance` (default `partreel`) and only
//! names the process; `START` is the process's start time as the kernel counts it, so a
//! recycled pid is a different identity; `MACHINE` tells apart hosts (and containers) that
//! share a host name and pid numbers.
//!
//! [`is_gone`] says when the process behind an identity is known to have ended: on the same
//! machine (same kernel boot and pid namespace) its pid no longer runs, runs a later process,
//! or is a zombie. A process elsewhere cannot be seen; its leases and journal entries are
//! taken over only once they are older than a lease, as before.

use std::sync::OnceLock;

/// Default process name when `[sync] instance` is not set.
pub const DEFAULT_NAME: &str = "partreel";

/// What the kernel tells of this process, read once.
struct Me {
    host: String,
    pid: u32,
    start: u64,
    machine: String,
}

fn me() -> &'static Me {
    static ME: OnceLock<Me> = OnceLock::new();
    ME.get_or_init(|| {
        let pid = std::process::id();
        Me {
            host: host_name(),
            pid,
            start: process_start(pid).unwrap_or_else(|| {
                // No /proc: the wall clock at first use stands in (never compared against a
                // kernel start time, since `machine` is empty then).
                chrono::Utc::now().timestamp_millis().max(0) as u64
            }),
            machine: machine_key().unwrap_or_default(),
        }
    })
}

/// This process's identity, named `name` (`[sync] instance`) or [`DEFAULT_NAME`].
pub fn identity(name: Option<&str>) -> String {
    let me = me();
    let name: String = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(DEFAULT_NAME)
        // `@` and `/` separate the parts; a name keeps its other characters.
        .chars()
        .map(|c| if c == '@' || c == '/' { '_' } else { c })
        .collect();
    format!("{name}@{}/{}/{}/{}", me.host, me.pid, me.start, me.machine)
}

/// This process as a file-name part, `MACHINE-PID-START` (see [`tag_is_gone`]).
pub fn file_tag() -> String {
    let me = me();
    format!("{}-{}-{}", me.machine, me.pid, me.start)
}

/// For a [`file_tag`] written by some process: `Some(true)` when that process is known to have
/// ended (same machine, pid free, zombie or reused), `Some(false)` when it may still run,
/// `None` when the tag is not one this machine can judge (another machine, or not a tag).
pub fn tag_is_gone(tag: &str) -> Option<bool> {
    let mut parts = tag.splitn(3, '-');
    let (machine, pid, start) = (parts.next()?, parts.next()?, parts.next()?);
    judge(machine, pid.parse().ok()?, start.parse().ok()?)
}

/// For an owner identity (as written in leases and run reports): `Some(true)` when that
/// process is known to have ended, `Some(false)` when it runs on this machine, `None` when this
/// machine cannot tell (another machine, an older identity).
pub fn owner_is_gone(owner: &str) -> Option<bool> {
    let p = parse(owner)?;
    judge(p.machine, p.pid, p.start)
}

/// Whether the process `pid` started at `start` on `machine` has ended: None when this machine
/// cannot tell (another machine, or no `/proc` here).
fn judge(machine: &str, pid: u32, start: u64) -> Option<bool> {
    let me = me();
    if me.machine.is_empty() || machine != me.machine {
        return None;
    }
    if pid == me.pid && start == me.start {
        return Some(false);
    }
    Some(match proc_stat(pid) {
        None => true,
        Some(stat) => stat.zombie || stat.start != start,
    })
}

/// The parts of an identity written by [`identity`].
#[derive(Debug, PartialEq, Eq)]
struct Parsed<'a> {
    pid: u32,
    start: u64,
    machine: &'a str,
}

fn parse(owner: &str) -> Option<Parsed<'_>> {
    let (_, rest) = owner.rsplit_once('@')?;
    let mut parts = rest.split('/');
    let _host = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    let start = parts.next()?.parse().ok()?;
    let machine = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    Some(Parsed {
        pid,
        start,
        machine,
    })
}

/// True when the process behind `owner` is known to have ended: it ran on this machine and
/// its pid is free, zombie, or taken by a process started at another time. False when it may
/// still run — this process itself, a process on another machine, an identity written by an
/// older partreel (`local`, `HOST-PID`) — in which case only a lease's age frees its work.
pub fn is_gone(owner: &str) -> bool {
    parse(owner).is_some_and(|p| judge(p.machine, p.pid, p.start) == Some(true))
}

/// Fields of `/proc/PID/stat` that tell whether a process lives.
struct Stat {
    zombie: bool,
    start: u64,
}

fn proc_stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parses `/proc/PID/stat`: the command name (field 2) is in parentheses and may hold spaces
/// and parentheses itself, so fields are counted after the last `)`. Field 3 is the state,
/// field 22 the start time in clock ticks since boot.
fn parse_stat(text: &str) -> Option<Stat> {
    let (_, after) = text.rsplit_once(')')?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let state = *fields.first()?;
    let start = fields.get(19)?.parse().ok()?;
    Some(Stat {
        zombie: matches!(state, "Z" | "X" | "x"),
        start,
    })
}

fn process_start(pid: u32) -> Option<u64> {
    proc_stat(pid).map(|s| s.start)
}

/// This kernel boot and pid namespace, hashed short: identities with the same key can be
/// checked against `/proc`; others cannot.
fn machine_key() -> Option<String> {
    use sha2::{Digest, Sha256};
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let ns = std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let digest = Sha256::digest(format!("{}|{ns}", boot.trim()).as_bytes());
    Some(hex::encode(&digest[..6]))
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().replace(['@', '/'], "_"))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_per_process_and_keep_their_name() {
        let a = identity(Some("nightly"));
        assert!(a.starts_with("nightly@"), "{a}");
        assert_eq!(
            identity(None).split_once('@').map(|x| x.0),
            Some("partreel")
        );
        // Separators in a name cannot make it parse as another process.
        let odd = identity(Some("a@b/c"));
        assert!(odd.starts_with("a_b_c@"), "{odd}");
        let p = parse(&odd).expect("parses");
        assert_eq!(p.pid, std::process::id());
    }

    #[test]
    fn this_process_is_not_gone_and_old_identities_are_unknown() {
        assert!(!is_gone(&identity(None)));
        assert!(!is_gone("local"));
        assert!(!is_gone("host-1234"));
        assert!(!is_gone(""));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_process_that_ended_is_gone_and_a_recycled_pid_is_not_it() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let pid = child.id();
        let start = process_start(pid).expect("child start time");
        let me = me();
        let owner = format!("x@{}/{pid}/{start}/{}", me.host, me.machine);
        assert!(!is_gone(&owner), "a running child is alive");
        // Same pid, another start time: another process.
        let recycled = format!("x@{}/{pid}/{}/{}", me.host, start + 1, me.machine);
        assert!(is_gone(&recycled));
        child.kill().expect("kill");
        // Not reaped yet: a zombie is gone too.
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(is_gone(&owner), "a killed, unreaped child is gone");
        child.wait().expect("reap");
        assert!(is_gone(&owner), "a reaped child is gone");
        // Another machine cannot be seen: never declared gone.
        let elsewhere = format!("x@{}/{pid}/{start}/000000000000", me.host);
        assert!(!is_gone(&elsewhere));
    }

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let line = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        let s = parse_stat(line).expect("parses");
        assert_eq!(s.start, 987654);
        assert!(!s.zombie);
        let z = "42 (x) Z 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 5 0 0";
        assert!(parse_stat(z).expect("parses").zombie);
        assert!(parse_stat("garbage").is_none());
    }
}
