//! What the kernel says about this process's threads: CPU time, to tell a
//! waiting event loop from a spinning one.

use std::time::Duration;

/// CPU time (user + system) spent so far by this process's threads whose
/// name starts with `prefix` (the kernel keeps 15 bytes of a thread's
/// name).
///
/// # Panics
///
/// If `/proc/self/task` cannot be read (not Linux).
pub fn threads_cpu_time(prefix: &str) -> Duration {
    let prefix = &prefix[..prefix.len().min(15)];
    // Clock ticks per second: 100 on every Linux this runs on.
    let tick = Duration::from_millis(10);
    let mut total = Duration::ZERO;
    let tasks = std::fs::read_dir("/proc/self/task").expect("read /proc/self/task");
    for task in tasks.flatten() {
        let path = task.path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else {
            continue;
        };
        if !comm.trim_end().starts_with(prefix) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        // The name field may hold spaces: the fields that follow start
        // after its closing parenthesis; utime and stime are the 12th and
        // 13th of them.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u32 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u32>().ok()))
            .sum();
        total += tick * ticks;
    }
    total
}
