//! Processes by pid, from `/proc` and the `kill` command: no `unsafe`, no libc.

use std::path::Path;
use std::process::Command;

/// Whether `pid` is a live process: it exists and is not a zombie (a killed
/// server whose parent has not reaped it yet runs nothing).
pub fn is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat_field(&stat, 0).is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Field `n` after the command name of a `/proc/<pid>/stat` line (0 is the
/// state, 1 the parent pid). The name is in parentheses and may hold spaces.
fn stat_field(stat: &str, n: usize) -> Option<&str> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(n)
}

/// `pid` and every process descended from it.
pub fn tree(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Ok(stat) = std::fs::read_to_string(entry.path().join("stat"))
                && let Some(parent) = stat_field(&stat, 1).and_then(|p| p.parse::<u32>().ok())
            {
                parents.push((child, parent));
            }
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found
}

/// Send `signal` (`STOP`, `CONT`, `KILL`) to each pid; pids already gone are fine.
pub fn signal(signal: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-s")
        .arg(signal)
        .args(pids.iter().map(u32::to_string))
        .stderr(std::process::Stdio::null())
        .status();
}

/// The postmaster's pid, from the first line of `postmaster.pid` in `data`.
pub fn postmaster_pid(data: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// The System V shared memory id Postgres recorded in `postmaster.pid` (line 7:
/// key, then id). A server killed with SIGKILL cannot remove its segment.
pub fn shared_memory_id(data: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    let line = text.lines().nth(6)?;
    line.split_whitespace().nth(1).map(str::to_string)
}

/// uid and gid of `user`, from /etc/passwd.
pub fn account(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&user) && fields.len() > 3)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    })
}

/// Whether this process runs as root (effective uid 0, from /proc).
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_a_name_with_spaces() {
        let stat = "42 (postgres: walsender) S 7 42 42 0";
        assert_eq!(stat_field(stat, 0), Some("S"));
        assert_eq!(stat_field(stat, 1), Some("7"));
    }

    #[test]
    fn this_process_runs_and_a_pid_that_is_not_does_not() {
        assert!(is_running(std::process::id()));
        assert!(!is_running(u32::MAX - 1));
        assert!(tree(std::process::id()).contains(&std::process::id()));
    }
}
